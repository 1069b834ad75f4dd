/** The work queue: message schema, the WorkQueue contract, SQS FIFO and on-disk implementations. */
export {
  MESSAGE_VERSION,
  MalformedMessage,
  assertQueueId,
  dedupIdFor,
  groupIdFor,
  parseMessage,
  reconcileMessage,
  serializeMessage,
  toQueueId,
  validateMessage,
  type ObjectRef,
  type ParseResult,
  type QueueMessage,
  type ReconcileMessage,
  type ReconcileReason,
} from './message.js';
export {
  DEDUP_WINDOW_MS,
  MAX_DELAY_SECONDS,
  MAX_RECEIVE_BATCH,
  MAX_VISIBILITY_SECONDS,
  MAX_WAIT_SECONDS,
  ReceiptExpiredError,
  type ConsumeOptions,
  type DeadMessage,
  type HandlerContext,
  type MessageHandler,
  type RawSendOptions,
  type ReceivedMessage,
  type ReceiveOptions,
  type SendOptions,
  type SendResult,
  type WorkQueue,
} from './types.js';
export { consume, defaultBackoffSeconds } from './consume.js';
export { LocalWorkQueue, type LocalWorkQueueOptions } from './local.js';
export {
  SQS_ATTR,
  SqsWorkQueue,
  ensureSqsQueues,
  isSqsError,
  type EnsureSqsQueuesOptions,
  type SqsQueues,
  type SqsWorkQueueOptions,
} from './sqs.js';
