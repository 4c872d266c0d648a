/**
 * A Server-Sent Events client as a till writes one with a streaming fetch (the key in a header,
 * never the query string), for the reader event streams: each event parsed as it arrives.
 */
export interface SseEvent { id?: string, event?: string, data: string }

export interface Stream {
  status: number
  headers: Headers
  /** the next event (comments skipped); rejects when the stream ends first */
  next: () => Promise<SseEvent>
  /** true once the server ended the stream */
  ended: () => boolean
  close: () => void
}

export async function openStream (url: string, headers: Record<string, string>): Promise<Stream> {
  const controller = new AbortController()
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal })
  const queue: SseEvent[] = []
  const waiting: Array<{ resolve: (e: SseEvent) => void, reject: (err: Error) => void }> = []
  let done = false
  const deliver = (e: SseEvent): void => {
    const w = waiting.shift()
    if (w === undefined) queue.push(e)
    else w.resolve(e)
  }
  const finish = (): void => {
    done = true
    for (const w of waiting.splice(0)) w.reject(new Error('the stream ended'))
  }
  if (res.body !== null && res.status === 200) {
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    ;(async () => {
      for (;;) {
        const { value, done: over } = await reader.read()
        if (over) break
        buffer += value
        let cut = buffer.indexOf('\n\n')
        while (cut !== -1) {
          const block = buffer.slice(0, cut)
          buffer = buffer.slice(cut + 2)
          const event: SseEvent = { data: '' }
          let any = false
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue
            const [field, ...rest] = line.split(':')
            const v = rest.join(':').replace(/^ /, '')
            if (field === 'id') event.id = v
            if (field === 'event') event.event = v
            if (field === 'data') event.data += v
            any = true
          }
          if (any) deliver(event)
          cut = buffer.indexOf('\n\n')
        }
      }
    })().catch(() => {}).finally(finish)
  } else {
    await res.text().catch(() => '')
    finish()
  }
  return {
    status: res.status,
    headers: res.headers,
    next: async () => {
      const e = queue.shift()
      if (e !== undefined) return e
      if (done) throw new Error('the stream ended')
      return await new Promise((resolve, reject) => { waiting.push({ resolve, reject }) })
    },
    ended: () => done,
    close: () => { controller.abort() }
  }
}
