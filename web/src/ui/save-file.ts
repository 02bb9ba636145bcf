/** Hands `blob` to the browser as a download named `fileName` (an export fetched with the key in a header). */
export function saveFile(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = fileName
  document.body.append(link)
  link.click()
  link.remove()
  // After the click has been handled: the download has the bytes by then.
  setTimeout(() => URL.revokeObjectURL(url), 0)
}
