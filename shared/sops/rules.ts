/**
 * Which leaves of a sops tree are encrypted (getsops/sops `Tree.shouldBeEncrypted`): the
 * path is the chain of mapping keys (list indices are not part of it) and `commentsStack`
 * holds, per nesting level, the comments seen since the last non-comment item.
 */
import { goRegexpMatch } from './go-regexp.js';
import type { CryptRules } from './types.js';

/** True when sops encrypts (so must decrypt) the leaf at `path`. */
export function shouldBeEncrypted(rules: CryptRules, path: readonly string[], commentsStack: readonly (readonly string[])[], isComment: boolean): boolean {
  let encrypted = true;
  if (rules.unencryptedSuffix !== '') {
    if (path.some((p) => p.endsWith(rules.unencryptedSuffix))) encrypted = false;
  }
  if (rules.encryptedSuffix !== '') {
    encrypted = path.some((p) => p.endsWith(rules.encryptedSuffix));
  }
  if (rules.unencryptedRegex !== '') {
    if (path.some((p) => goRegexpMatch(rules.unencryptedRegex, p, 'unencrypted_regex'))) encrypted = false;
  }
  if (rules.encryptedRegex !== '') {
    encrypted = path.some((p) => goRegexpMatch(rules.encryptedRegex, p, 'encrypted_regex'));
  }
  if (rules.unencryptedCommentRegex !== '') {
    if (commentsStack.some((cs) => cs.some((c) => goRegexpMatch(rules.unencryptedCommentRegex, c, 'unencrypted_comment_regex')))) {
      encrypted = false;
    }
  }
  if (rules.encryptedCommentRegex !== '') {
    encrypted = false;
    const last = commentsStack.length - 1;
    const lastLen = last >= 0 ? commentsStack[last].length : 0;
    outer: for (let i = 0; i < commentsStack.length; i++) {
      const cs = commentsStack[i];
      for (let j = 0; j < cs.length; j++) {
        // The comment line that matches is itself left in clear text.
        if (isComment && i === last && j === lastLen - 1) continue;
        if (goRegexpMatch(rules.encryptedCommentRegex, cs[j], 'encrypted_comment_regex')) {
          encrypted = true;
          break outer;
        }
      }
    }
  }
  return encrypted;
}
