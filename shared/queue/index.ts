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
export { consume } from './consume.js';
export { afterHandling, beforeHandling, defaultBackoffSeconds, deliveryPolicy, DEFAULT_MAX_RECEIVES, type DeadLetterHook, type DeliveryPolicy, type Settlement } from './policy.js';
export { LocalWorkQueue, type LocalWorkQueueOptions } from './local.js';
export {
  SQS_ATTR,
  SqsWorkQueue,
  isSqsError,
  type SqsWorkQueueOptions,
} from './sqs.js';
