// The people I blocked: loaded over REST, kept live by user.blocked / user.unblocked (which my
// other devices' blocks and unblocks send too). Views collapse blocked people's group messages and
// close the private composer with them.

import { api } from "./api.js";
import { setBlocks, state } from "./store.js";

export async function loadBlocks() {
  setBlocks(await api.get("users/blocks"));
}

export const isBlocked = (userId) => state.blocks.some((block) => block.user_id === userId);

export function onBlocked(block) {
  if (!isBlocked(block.user_id)) setBlocks([block, ...state.blocks]);
}

export function onUnblocked({ user_id: userId }) {
  setBlocks(state.blocks.filter((block) => block.user_id !== userId));
}

export async function blockPerson(userId) {
  onBlocked(await api.post("users/blocks", { user_id: userId }));
}

export async function unblockPerson(userId) {
  await api.delete(`users/blocks/${userId}`);
  onUnblocked({ user_id: userId });
}
