/**
 * The admin UI's code changes view: diffs laid out as rows (web/src/views/changes/diff-rows.ts, from real
 * `diff` patches) and the view's model (web/src/views/changes/model.ts): the file tree, filters, the points
 * a comparison picks from, the selection in the address.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { structuredPatch } from 'diff'
import type { ChangedFile, ChangeRollup, FileChange } from '../../web/src/api/types/changes.js'
import type { LiveEvent } from '../../web/src/api/types/events.js'
import {
  capped,
  firstLines,
  lastLines,
  type SplitRow,
  splitRows,
  type UnifiedRow,
  unifiedRows,
} from '../../web/src/views/changes/diff-rows.js'
import {
  changeRange,
  changesOf,
  changesRollupStale,
  commonFolder,
  countsText,
  filterFiles,
  NO_FILTER,
  pointGroups,
  pointOf,
  pointValue,
  readSelection,
  relativeTo,
  selectionQuery,
  treeRows,
} from '../../web/src/views/changes/model.js'

const patch = (before: string, after: string) =>
  structuredPatch('f', 'f', before, after, undefined, undefined, { context: 3 })

/** Rows as short strings: `@@ skipped`, ` 3 4 text` (kind marker, old and new numbers). */
function unifiedText(rows: UnifiedRow[]): string[] {
  return rows.map((row) => {
    if (row.type === 'hunk') return `@@ ${row.skipped}`
    if (row.type === 'no-newline') return `\\ ${row.side}`
    const mark = { added: '+', removed: '-', context: ' ' }[row.line.kind]
    return `${mark}${row.line.old ?? '.'} ${row.line.new ?? '.'} ${row.line.text}`
  })
}

function splitText(rows: SplitRow[]): string[] {
  return rows.map((row) => {
    if (row.type === 'hunk') return `@@ ${row.skipped}`
    if (row.type === 'no-newline') return `\\ ${row.side}`
    const side = (line: (typeof row)['left'], number: number | undefined) =>
      line ? `${line.kind[0]}${number}:${line.text}` : '-'
    return `${side(row.left, row.left?.old)} | ${side(row.right, row.right?.new)}`
  })
}

const lines = (count: number, prefix = 'line') =>
  Array.from({ length: count }, (_, i) => `${prefix} ${i + 1}\n`).join('')

test('an edit in the middle: context around it, line numbers on both sides, unchanged lines counted', () => {
  const before = lines(20)
  const after = before.replace('line 10\n', 'line ten\nline ten and a half\n')
  const rows = unifiedRows(patch(before, after))
  assert.deepEqual(unifiedText(rows), [
    '@@ 6',
    ' 7 7 line 7',
    ' 8 8 line 8',
    ' 9 9 line 9',
    '-10 . line 10',
    '+. 10 line ten',
    '+. 11 line ten and a half',
    ' 11 12 line 11',
    ' 12 13 line 12',
    ' 13 14 line 13',
  ])
})

test('split: a removed run beside the added run that replaced it, the longer run beside nothing', () => {
  const before = 'a\nb\nc\nd\n'
  const after = 'a\nB\nC\nX\nd\n'
  assert.deepEqual(splitText(splitRows(patch(before, after))), [
    '@@ 0',
    'c1:a | c1:a',
    'r2:b | a2:B',
    'r3:c | a3:C',
    '- | a4:X',
    'c4:d | c5:d',
  ])
})

test('split: a removal after additions starts a new pair, not a pairing with the earlier additions', () => {
  const rows = splitRows({
    oldFileName: 'f',
    newFileName: 'f',
    oldHeader: undefined,
    newHeader: undefined,
    hunks: [{ oldStart: 1, oldLines: 2, newStart: 1, newLines: 1, lines: ['+x', '-a', '-b'] }],
  })
  assert.deepEqual(splitText(rows), ['@@ 0', '- | a1:x', 'r1:a | -', 'r2:b | -'])
})

test('a created file is all added lines from 1; a deleted one all removed lines', () => {
  assert.deepEqual(unifiedRows(patch('', 'one\ntwo\n'))[0], {
    type: 'hunk',
    header: '@@ -0,0 +1,2 @@',
    skipped: 0,
  })
  assert.deepEqual(splitRows(patch('one\n', ''))[0], { type: 'hunk', header: '@@ -1,1 +0,0 @@', skipped: 0 })
  assert.deepEqual(unifiedText(unifiedRows(patch('', 'one\ntwo\n'))), ['@@ 0', '+. 1 one', '+. 2 two'])
  assert.deepEqual(splitText(splitRows(patch('one\ntwo\n', ''))), ['@@ 0', 'r1:one | -', 'r2:two | -'])
})

test('two hunks: the second says how many unchanged lines lie between them', () => {
  const before = lines(40)
  const after = before.replace('line 5\n', 'five\n').replace('line 30\n', 'thirty\n')
  const hunks = unifiedRows(patch(before, after)).filter((row) => row.type === 'hunk')
  // Context 3: lines 2-8 shown, then 27-33; 9-26 left out.
  assert.deepEqual(
    hunks.map((row) => row.type === 'hunk' && row.skipped),
    [1, 18],
  )
})

test('no newline at the end: marked under the side it is about', () => {
  const text = unifiedText(unifiedRows(patch('a\nb', 'a\nb\n')))
  assert.deepEqual(text, ['@@ 0', ' 1 1 a', '-2 . b', '\\ old', '+. 2 b'])
  const split = splitText(splitRows(patch('a\nb', 'a\nb\n')))
  assert.deepEqual(split, ['@@ 0', 'c1:a | c1:a', 'r2:b | -', '\\ old', '- | a2:b'])
})

test('identical contents: no rows', () => {
  assert.deepEqual(unifiedRows(patch('same\n', 'same\n')), [])
})

test('capped: the first rows and how many are left', () => {
  assert.deepEqual(capped([1, 2, 3], 5), { shown: [1, 2, 3], hidden: 0 })
  assert.deepEqual(capped([1, 2, 3, 4, 5], 2), { shown: [1, 2], hidden: 3 })
})

test('lastLines and firstLines: a side is highlighted down to the last line shown, no further', () => {
  const rows = unifiedRows(patch(lines(40), lines(40).replace('line 20\n', 'twenty\n')))
  assert.deepEqual(lastLines(rows), { old: 23, new: 23 })
  assert.deepEqual(lastLines(capped(rows, 3).shown), { old: 18, new: 18 })
  assert.deepEqual(lastLines(splitRows(patch('', 'a\nb\n'))), { old: 0, new: 2 })
  assert.equal(firstLines('a\nb\nc\n', 2), 'a\nb')
  assert.equal(firstLines('a\nb\nc', 3), 'a\nb\nc')
  assert.equal(firstLines('a\nb', 10), 'a\nb')
  assert.equal(firstLines('a\nb', 0), '')
})

const file = (
  path: string,
  status: ChangedFile['status'] = 'modified',
  fields: Partial<ChangedFile> = {},
): ChangedFile => ({
  path,
  status,
  changes: 1,
  added: 1,
  removed: 0,
  last_seq: 1,
  ...fields,
})

test('commonFolder: the folder every path is under, and paths relative to it', () => {
  assert.equal(commonFolder(['/w/app/src/a.ts', '/w/app/src/lib/b.ts', '/w/app/README.md']), '/w/app/')
  assert.equal(commonFolder(['/w/app/src/a.ts']), '/w/app/src/')
  assert.equal(commonFolder(['a.ts', 'b/c.ts']), '')
  assert.equal(commonFolder([]), '')
  assert.equal(relativeTo('/w/app/src/a.ts', '/w/app/'), 'src/a.ts')
  assert.equal(relativeTo('/elsewhere/x', '/w/app/'), '/elsewhere/x')
})

test('treeRows: folders first then files by name, one-child folders joined, closed folders hide their content', () => {
  const files = [
    file('/w/README.md', 'created'),
    file('/w/src/api/deep/x.ts'),
    file('/w/src/app.ts'),
    file('/w/src/api/deep/y.ts', 'deleted'),
    file('/w/docs/guide/intro.md'),
  ]
  const base = commonFolder(files.map((each) => each.path))
  const show = (closed: Set<string>) =>
    treeRows(files, base, closed).map((row) =>
      row.type === 'folder'
        ? `${'  '.repeat(row.depth)}${row.name}/${row.open ? '' : ' (closed)'}`
        : `${'  '.repeat(row.depth)}${row.name}`,
    )
  assert.deepEqual(show(new Set()), [
    'docs/guide/',
    '  intro.md',
    'src/',
    '  api/deep/',
    '    x.ts',
    '    y.ts',
    '  app.ts',
    'README.md',
  ])
  assert.deepEqual(show(new Set(['/w/src/api/deep/'])), [
    'docs/guide/',
    '  intro.md',
    'src/',
    '  api/deep/ (closed)',
    '  app.ts',
    'README.md',
  ])
})

test('filterFiles: by part of the path in any case, and by status', () => {
  const files = [file('/w/src/App.tsx', 'created'), file('/w/src/util.ts'), file('/w/old.ts', 'deleted')]
  assert.deepEqual(
    filterFiles(files, { ...NO_FILTER, text: 'app' }).map((each) => each.path),
    ['/w/src/App.tsx'],
  )
  assert.deepEqual(
    filterFiles(files, { text: 'src', status: 'modified' }).map((each) => each.path),
    ['/w/src/util.ts'],
  )
  assert.equal(filterFiles(files, NO_FILTER).length, 3)
})

const change = (seq: number, path: string, turn: string, fields: Partial<FileChange> = {}): FileChange => ({
  seq,
  ts: new Date(Date.UTC(2026, 11, 7, 10, 0, seq)).toISOString(),
  turn_id: turn,
  tool_use_id: `toolu_${seq}`,
  tool: 'Edit',
  path,
  kind: 'modified',
  added: 1,
  removed: 1,
  known: true,
  ...fields,
})

const rollup: ChangeRollup = {
  totals: { files: 2, added: 3, removed: 1 },
  files: [file('/w/a.ts', 'created'), file('/w/b.ts')],
  changes: [
    change(5, '/w/a.ts', 'turn-1', { tool: 'Write', kind: 'created' }),
    change(9, '/w/b.ts', 'turn-1'),
    change(20, '/w/a.ts', 'turn-2'),
  ],
}

test('pointGroups: the start, each change grouped by its turn with its time, the compared file marked, now', () => {
  const time = (ts: string) => ts.slice(11, 19)
  const groups = pointGroups(rollup, '/w/a.ts', '/w/', time)
  assert.deepEqual(
    groups.map((group) => [group.label, group.options.map((option) => `${option.value}=${option.label}`)]),
    [
      ['Start', ['0=Start: before the session changed it']],
      [
        'Turn at 10:00:05',
        ['5=#5 · 10:00:05 · Write a.ts (created) ●', '9=#9 · 10:00:09 · Edit b.ts (modified)'],
      ],
      ['Turn at 10:00:20', ['20=#20 · 10:00:20 · Edit a.ts (modified) ●']],
      ['Now', ['now=Now: as the session has left it']],
    ],
  )
  assert.equal(pointOf(pointValue(undefined)), undefined)
  assert.equal(pointOf(pointValue(9)), 9)
})

test('changesOf and changeRange: a file’s changes, each compared from just before it to just after', () => {
  assert.deepEqual(
    changesOf(rollup, '/w/a.ts').map((each) => each.seq),
    [5, 20],
  )
  assert.equal(changesOf(rollup, undefined).length, 3)
  assert.deepEqual(changeRange(rollup.changes[2]!), { from: 19, to: 20 })
})

test('the selection round-trips through the address, defaults left out, nonsense ignored', () => {
  const selection = { file: '/w/a b.ts', from: 5, to: 20 }
  assert.deepEqual(readSelection(new URLSearchParams(selectionQuery(selection))), selection)
  assert.equal(selectionQuery({ file: undefined, from: 0, to: undefined }), '')
  // As the timeline links to a file's changes.
  assert.deepEqual(readSelection(new URLSearchParams('path=%2Fw%2Fa.ts')), {
    file: '/w/a.ts',
    from: 0,
    to: undefined,
  })
  assert.deepEqual(readSelection(new URLSearchParams('from=-3&to=x')), {
    file: undefined,
    from: 0,
    to: undefined,
  })
})

test('changesRollupStale: only a file.changed of this session', () => {
  const event = (type: string, sessionId: string) =>
    ({ type, sessionId, seq: 1, ts: 0, pos: 1 }) as unknown as LiveEvent
  assert.equal(changesRollupStale([event('text.delta', 's1'), event('file.changed', 's2')], 's1'), false)
  assert.equal(changesRollupStale([event('text.delta', 's1'), event('file.changed', 's1')], 's1'), true)
})

test('countsText: +added −removed, or unknown', () => {
  assert.equal(countsText(4, 1), '+4 −1')
  assert.equal(countsText(null, 2), 'lines unknown')
})
