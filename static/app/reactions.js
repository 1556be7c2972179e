// Reactions (issue 22): toggling one's emoji on a message over REST, and the message.reaction
// event merged into the stored message. Live frames carry no `me` (they are the same for every
// member): this client keeps what it knew and sets it when the event is its own.

import { api } from "./api.js";
import { state } from "./store.js";
import { mergeMessages } from "./store-messages.js";

const find = (chatId, messageId) => state.histories.get(chatId)?.messages.find((m) => m.id === messageId);

/** `reactions` with `me` where they lack it: from `mine` (this client's own change), else as known. */
function withMe(known, reactions, mine = null) {
  const before = new Map((known?.reactions || []).map((r) => [r.emoji, r.me]));
  return reactions.map((r) => ({ ...r, me: r.me ?? (mine?.emoji === r.emoji ? mine.added : Boolean(before.get(r.emoji))) }));
}

/** A message pushed live (message.edit) with the `me` this client knew. */
export function keepMine(message) {
  if (!message.reactions) return message;
  return { ...message, reactions: withMe(find(message.chat_id, message.id), message.reactions) };
}

/** Add the emoji if the person has not reacted with it, else remove it. */
export async function toggleReaction(message, emoji) {
  const mine = (message.reactions || []).some((r) => r.emoji === emoji && r.me);
  const path = `messages/${message.id}/reactions`;
  const answer = mine ? await api.delete(`${path}/${encodeURIComponent(emoji)}`) : await api.post(path, { emoji });
  const current = find(answer.chat_id, answer.message_id);
  if (current) mergeMessages(answer.chat_id, [{ ...current, reactions: answer.reactions }]);
}

/** The message.reaction event. */
export function onReaction({ chat_id: chatId, message_id: messageId, emoji, user_id: userId, added, reactions }) {
  const current = find(chatId, messageId);
  if (!current) return;
  const mine = userId === state.me.id ? { emoji, added } : null;
  mergeMessages(chatId, [{ ...current, reactions: withMe(current, reactions, mine) }]);
}
