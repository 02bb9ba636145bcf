/** The admin UI's SSE parser (web/src/live/sse.ts) on frames as GET /api/events writes them, cut anywhere. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readSse, type SseFrame, SseParser } from '../../web/src/live/sse.js'

/** A recorded start of a stream: connected, the position, two events, a heartbeat, an error before a cut. */
const RECORDED =
  ': connected\n\n' +
  'id: 41\nevent: stream.position\ndata: {"pos":41}\n\n' +
  'id: 42\nevent: session.state\ndata: {"type":"session.state","state":"running","previous":"idle","seq":7,"ts":1765000000000,"sessionId":"s1"}\n\n' +
  ': heartbeat\n\n' +
  'id: 43\nevent: text.delta\ndata: {"type":"text.delta","turnId":"t1","text":"é ✓ 日本","parentToolUseId":null,"seq":8,"ts":1765000000001,"sessionId":"s1"}\n\n' +
  'event: error\ndata: {"code":"slow_consumer","message":"too slow"}\n\n'

function parseAll(chunks: string[]): { frames: SseFrame[]; comments: string[] } {
  const frames: SseFrame[] = []
  const comments: string[] = []
  const parser = new SseParser({
    frame: (frame) => frames.push(frame),
    comment: (text) => comments.push(text),
  })
  for (const chunk of chunks) parser.push(chunk)
  return { frames, comments }
}

test('a recorded stream gives its frames, ids and comments', () => {
  const { frames, comments } = parseAll([RECORDED])
  assert.deepEqual(comments, ['connected', 'heartbeat'])
  assert.deepEqual(
    frames.map(({ id, event }) => [id, event]),
    [
      ['41', 'stream.position'],
      ['42', 'session.state'],
      ['43', 'text.delta'],
      [undefined, 'error'],
    ],
  )
  assert.equal(JSON.parse(frames[2]!.data).text, 'é ✓ 日本')
  assert.deepEqual(JSON.parse(frames[3]!.data), { code: 'slow_consumer', message: 'too slow' })
})

test('the same frames whatever the chunks: every cut point, and byte by byte', () => {
  const whole = parseAll([RECORDED]).frames
  for (let cut = 1; cut < RECORDED.length; cut++) {
    assert.deepEqual(parseAll([RECORDED.slice(0, cut), RECORDED.slice(cut)]).frames, whole, `cut at ${cut}`)
  }
  assert.deepEqual(parseAll([...RECORDED]).frames, whole)
})

test('CRLF and CR line ends, a CRLF split across chunks, multi-line data, no space after the colon', () => {
  const { frames } = parseAll(['id:1\r\nevent:a\r\ndata:x\r', '\ndata: y\r\n\r', '\nid: 2\rdata: z\r\r'])
  assert.deepEqual(frames, [
    { id: '1', event: 'a', data: 'x\ny' },
    { id: '2', event: 'message', data: 'z' },
  ])
})

test('a frame without data dispatches nothing; an unfinished frame waits for its blank line', () => {
  const { frames } = parseAll(['id: 5\nevent: x\n\n', 'data: partial\n'])
  assert.deepEqual(frames, [])
})

test('readSse decodes UTF-8 split inside a character', async () => {
  const bytes = new TextEncoder().encode(RECORDED)
  // Cut inside the three bytes of ✓.
  const at = RECORDED.indexOf('✓')
  const split = new TextEncoder().encode(RECORDED.slice(0, at)).length + 1
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.slice(0, split))
      controller.enqueue(bytes.slice(split))
      controller.close()
    },
  })
  const frames: SseFrame[] = []
  await readSse(body, { frame: (frame) => frames.push(frame) })
  assert.equal(JSON.parse(frames[2]!.data).text, 'é ✓ 日本')
})
