/**
 * Syntax highlighting for the code Claude reads and writes: shiki through `shiki/core` with its JavaScript
 * regex engine (no WebAssembly to fetch), the two themes at once (CSS variables pick one with the page's
 * theme, so a theme switch re-renders nothing), and each language's grammar loaded the first time a block
 * of it shows. Only views import this module, so shiki stays out of the shell; its core, the themes and
 * every grammar are lazy chunks of their own.
 */

import { useEffect, useMemo, useState } from 'react'
import type { HighlighterCore, LanguageRegistration } from 'shiki/core'

type Grammar = () => Promise<{ default: LanguageRegistration[] }>

/** The grammars offered, by shiki's id: the languages a coding session meets most. */
const GRAMMARS: Record<string, Grammar> = {
  bash: () => import('shiki/langs/bash.mjs'),
  c: () => import('shiki/langs/c.mjs'),
  cpp: () => import('shiki/langs/cpp.mjs'),
  csharp: () => import('shiki/langs/csharp.mjs'),
  css: () => import('shiki/langs/css.mjs'),
  diff: () => import('shiki/langs/diff.mjs'),
  dockerfile: () => import('shiki/langs/dockerfile.mjs'),
  go: () => import('shiki/langs/go.mjs'),
  html: () => import('shiki/langs/html.mjs'),
  ini: () => import('shiki/langs/ini.mjs'),
  java: () => import('shiki/langs/java.mjs'),
  javascript: () => import('shiki/langs/javascript.mjs'),
  json: () => import('shiki/langs/json.mjs'),
  jsx: () => import('shiki/langs/jsx.mjs'),
  kotlin: () => import('shiki/langs/kotlin.mjs'),
  lua: () => import('shiki/langs/lua.mjs'),
  make: () => import('shiki/langs/make.mjs'),
  markdown: () => import('shiki/langs/markdown.mjs'),
  php: () => import('shiki/langs/php.mjs'),
  python: () => import('shiki/langs/python.mjs'),
  ruby: () => import('shiki/langs/ruby.mjs'),
  rust: () => import('shiki/langs/rust.mjs'),
  scss: () => import('shiki/langs/scss.mjs'),
  sql: () => import('shiki/langs/sql.mjs'),
  swift: () => import('shiki/langs/swift.mjs'),
  toml: () => import('shiki/langs/toml.mjs'),
  tsx: () => import('shiki/langs/tsx.mjs'),
  typescript: () => import('shiki/langs/typescript.mjs'),
  xml: () => import('shiki/langs/xml.mjs'),
  yaml: () => import('shiki/langs/yaml.mjs'),
}

/** Other names and file extensions of those languages. */
const ALIASES: Record<string, string> = {
  sh: 'bash',
  shell: 'bash',
  zsh: 'bash',
  console: 'bash',
  h: 'c',
  hpp: 'cpp',
  cc: 'cpp',
  cs: 'csharp',
  docker: 'dockerfile',
  patch: 'diff',
  htm: 'html',
  svg: 'xml',
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsonc: 'json',
  json5: 'json',
  kt: 'kotlin',
  makefile: 'make',
  md: 'markdown',
  py: 'python',
  rb: 'ruby',
  rs: 'rust',
  ts: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  yml: 'yaml',
  cfg: 'ini',
}

/**
 * The grammar for a fence's info string (`ts`, `python`) or a file path (`src/app.tsx`, `Dockerfile`),
 * or undefined: such code shows plain.
 */
export function languageOf(hint: string | null | undefined): string | undefined {
  if (!hint) return undefined
  const name = hint.trim().toLowerCase()
  const file = name.split('/').pop() ?? name
  const candidates = [name, file, file.includes('.') ? file.slice(file.lastIndexOf('.') + 1) : file]
  for (const candidate of candidates) {
    const id = ALIASES[candidate] ?? candidate
    if (Object.hasOwn(GRAMMARS, id)) return id
  }
  return undefined
}

let core: Promise<HighlighterCore> | undefined
/** The highlighter once it is there, and the grammars it has: highlighting is synchronous from then on. */
let ready: HighlighterCore | undefined
const loading = new Map<string, Promise<void>>()
const languages = new Set<string>()

function highlighter(): Promise<HighlighterCore> {
  core ??= (async () => {
    const [{ createHighlighterCore }, { createJavaScriptRegexEngine }, light, dark] = await Promise.all([
      import('shiki/core'),
      import('shiki/engine/javascript'),
      import('shiki/themes/github-light.mjs'),
      import('shiki/themes/github-dark.mjs'),
    ])
    ready = await createHighlighterCore({
      themes: [light.default, dark.default],
      langs: [],
      engine: createJavaScriptRegexEngine(),
    })
    return ready
  })()
  return core
}

/** Loads the highlighter and a grammar of languageOf(); resolves when both are there. */
export function loadLanguage(language: string): Promise<void> {
  let loaded = loading.get(language)
  if (!loaded) {
    const grammar = GRAMMARS[language]
    if (!grammar) return Promise.reject(new Error(`No grammar for ${language}`))
    loaded = Promise.all([highlighter(), grammar()]).then(async ([shiki, module]) => {
      await shiki.loadLanguage(module.default)
      languages.add(language)
    })
    loading.set(language, loaded)
  }
  return loaded
}

/**
 * `code` as highlighted HTML (a `<pre class="shiki">`, every text escaped by shiki, both themes' colours as
 * CSS variables), or undefined while the highlighter or the grammar is not loaded yet.
 */
export function highlightNow(code: string, language: string): string | undefined {
  if (!ready || !languages.has(language)) return undefined
  return ready.codeToHtml(code, {
    lang: language,
    themes: { light: 'github-light', dark: 'github-dark' },
    defaultColor: false,
  })
}

/** A highlighted token: its text and both themes' colours as CSS variables (`--shiki-light`...). */
export interface Token {
  content: string
  style: Record<string, string> | undefined
}

/**
 * `code` as lines of highlighted tokens, for views that lay the lines out themselves (a diff places each
 * line of either side in its own row), or undefined while the highlighter or the grammar is not loaded.
 */
export function tokensNow(code: string, language: string): Token[][] | undefined {
  if (!ready || !languages.has(language)) return undefined
  const { tokens } = ready.codeToTokens(code, {
    lang: language,
    themes: { light: 'github-light', dark: 'github-dark' },
    defaultColor: false,
  })
  return tokens.map((line) => line.map((token) => ({ content: token.content, style: token.htmlStyle })))
}

/** highlightNow, after loading what it needs. */
export async function highlight(code: string, language: string): Promise<string> {
  await loadLanguage(language)
  return highlightNow(code, language)!
}

/**
 * Whether `language`'s grammar (and the highlighter) is loaded, loading it when not: the caller renders
 * again once it arrives. Undefined: no grammar wanted, nothing loads. A grammar that failed to load stays
 * false: plain code is still the code, it costs only the colours.
 */
export function useGrammar(language: string | undefined): boolean {
  const loaded = language !== undefined && ready !== undefined && languages.has(language)
  const [, setLoads] = useState(0)
  useEffect(() => {
    if (loaded || !language) return
    let current = true
    loadLanguage(language).then(
      () => {
        if (current) setLoads((count) => count + 1)
      },
      () => {},
    )
    return () => {
      current = false
    }
  }, [loaded, language])
  return loaded
}

/**
 * The highlighted HTML of `code`; undefined (the caller shows it plain in a <pre>) for an unknown language,
 * until its grammar is loaded, or if loading failed. Once loaded, code that changes (a block streaming in)
 * is highlighted in the same render: it never flickers back to plain.
 */
export function useHighlighted(code: string, hint: string | null | undefined): string | undefined {
  const language = languageOf(hint)
  const loaded = useGrammar(language)
  return useMemo(
    () => (loaded && language ? highlightNow(code, language) : undefined),
    [loaded, code, language],
  )
}
