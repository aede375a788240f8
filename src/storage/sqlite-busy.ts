/** SQLITE_BUSY and its extended codes: another connection holds the lock a statement needs. */
export const isBusy = (err: unknown): boolean =>
  typeof (err as { code?: unknown } | null)?.code === 'string' && (err as { code: string }).code.startsWith('SQLITE_BUSY');
