// Token bucket for inbound text frames per socket: a runaway client gets RATE_LIMITED instead of
// starving the object that also serves its other sockets, alarms and RPCs.

export interface Bucket {
  tokens: number;
  at: number;
}

export function takeToken(bucket: Bucket, now: number, ratePerS: number, burst: number): boolean {
  const refill = ((now - bucket.at) / 1000) * ratePerS;
  bucket.tokens = Math.min(burst, bucket.tokens + refill);
  bucket.at = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}
