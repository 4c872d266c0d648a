import type { ReaderAction } from '../db/repos/reader-actions.js'

type Action = Omit<ReaderAction, 'reader_id' | 'livemode' | 'account' | 'inputs'> & { inputs: unknown[] | null }

/**
 * What `GET /reader_action` answers for a reader's recorded action, and what its event stream sends
 * at each change (the webhooks record it, the Terminal API serves it).
 */
export function readerActionBody (row: ReaderAction): { reader_id: string, action: Action } {
  const { reader_id: readerId, livemode: _livemode, account: _account, inputs, ...action } = row
  const collected: unknown = inputs === null ? null : JSON.parse(inputs)
  return { reader_id: readerId, action: { ...action, inputs: Array.isArray(collected) ? collected : null } }
}
