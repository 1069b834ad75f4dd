/** `generic`: the secret webhook path is the only authentication (Flux). */
import type { ReceiverHandler } from '../handler.js';

/** Accepts every request that reached the secret path. */
export const generic: ReceiverHandler = () => ({ kind: 'accept' });
