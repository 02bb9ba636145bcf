/**
 * The admin UI's build: `vite build --config web/vite.config.ts` from the package root writes dist/admin,
 * which src/api/admin.ts serves at /admin. `npm run dev:admin` serves it with live reload and forwards /api
 * to a running gateway (CCGW_URL, default http://127.0.0.1:8080).
 */
import { fileURLToPath } from 'node:url'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/admin/',
  plugins: [react()],
  build: {
    outDir: '../dist/admin',
    emptyOutDir: true,
    assetsDir: 'assets',
    // Small files stay files: the page's CSP allows no inline data for scripts, and hashed files cache well.
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    proxy: { '/api': { target: process.env.CCGW_URL ?? 'http://127.0.0.1:8080' } },
  },
})
