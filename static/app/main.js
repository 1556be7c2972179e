// Start-up: the sign-in screen, or (with a stored session) the chat client: profile, chats,
// contacts and missed calls over REST, then the WebSocket, which keeps everything live.

import { api, signOut } from "./api.js";
import { loadBlocks } from "./blocks.js";
import * as calls from "./calls.js";
import { loadChats, loadMissedCalls } from "./chats.js";
import { loadContacts } from "./contacts.js";
import { byId } from "./dom.js";
import { loadDrafts, resetDrafts } from "./drafts.js";
import { fillIcons } from "./icons.js";
import { initNotifier, resetNotifier } from "./notifier.js";
import { resetOutbox } from "./messaging.js";
import { initRealtime } from "./realtime.js";
import { initReceipts } from "./receipts.js";
import { currentTokens, onSessionEnded } from "./session.js";
import * as socket from "./socket.js";
import { resetState, state } from "./store.js";
import { initAccountLinks } from "./views/account-links.js";
import { initViewer } from "./views/attachment-view.js";
import { focusAfterSignIn, initAuth, showAuth } from "./views/auth.js";
import { callPeer, initCallView } from "./views/call.js";
import { initContacts, resetContacts } from "./views/contacts.js";
import { initConversation, openChat, pinsChanged, resetConversation } from "./views/conversation.js";
import { initForwardDialog } from "./views/forward-dialog.js";
import { initPins } from "./views/pins.js";
import { closeGroupPanel, initGroupPanel, toggleGroupPanel } from "./views/group-panel.js";
import { initInvite, showInviteFromLocation } from "./views/invite.js";
import { initMessageInfo } from "./views/message-info.js";
import { initNewGroup } from "./views/new-group.js";
import { initNotifyMenu } from "./views/notify-menu.js";
import { initProfile, showMe } from "./views/profile.js";
import { initRecorder } from "./views/recorder.js";
import { initQuickSwitcher } from "./views/quick-switcher.js";
import { initReportDialog } from "./views/report-dialog.js";
import { initSearch, resetSearch } from "./views/search.js";
import { initSettings } from "./views/settings.js";
import { initBlockedSettings } from "./views/settings-blocked.js";
import { initLanguageSettings } from "./views/settings-language.js";
import { initAppearanceSettings } from "./views/settings-appearance.js";
import { initNotificationSettings } from "./views/settings-notifications.js";
import { initProfileSettings } from "./views/settings-profile.js";
import { initDataSettings } from "./views/settings-data.js";
import { initTwoFactorSettings, openTwoFactorIfRequired } from "./views/settings-two-factor.js";
import { initAccountSettings } from "./views/settings-account.js";
import { initSessionSettings } from "./views/settings-sessions.js";
import { initSidebar, resetSidebar } from "./views/sidebar.js";
import { initSso } from "./views/sso.js";
import { attempt } from "./views/toasts.js";
import { initUploadTray } from "./views/upload-tray.js";
import { initWebPush, signOutWebPush, startWebPush, stopWebPush } from "./webpush.js";

/** The language switch and server links sit under the sign-in form, or at the sidebar's foot. */
function placeFooter(slot) {
  document.querySelector(`[data-footer-slot="${slot}"]`).append(byId("site-footer"));
}

const refreshAll = () => Promise.all([loadChats(), loadContacts(), loadMissedCalls(), loadBlocks(), loadDrafts()]);
let connectedBefore = false;

/** After a reconnect, reload what changed while away besides messages (sync brings those). */
function onConnected() {
  if (connectedBefore) attempt(refreshAll);
  connectedBefore = true;
}

async function startClient() {
  byId("auth-view").hidden = true;
  showMe(await api.get("users/me"));
  placeFooter("main");
  byId("main-view").hidden = false;
  await attempt(refreshAll);
  focusAfterSignIn();
  showInviteFromLocation();
  connectedBefore = false;
  socket.start(state.me.id);
  await attempt(startWebPush);
  await attempt(openTwoFactorIfRequired);
}

function stopClient() {
  socket.stop();
  calls.hangUp();
  calls.dismiss();
  closeGroupPanel();
  byId("settings-dialog").close();  // it shows the account that was signed out
  resetConversation();
  resetSidebar();
  resetSearch();
  resetContacts();
  resetState();
  resetOutbox();
  resetDrafts();
  resetNotifier();
  byId("main-view").hidden = true;
  placeFooter("auth");
  showAuth();
}

function boot() {
  fillIcons(document);
  initAuth(() => startClient().catch(stopClient));
  initSso(() => startClient().catch(stopClient));
  initSidebar(openChat);
  initSearch(openChat);
  initConversation({ onCall: callPeer, onToggleGroupPanel: toggleGroupPanel });
  initNotifyMenu();
  initUploadTray();
  initRecorder(() => state.currentChatId);
  initViewer();
  initGroupPanel();
  initProfile();
  initContacts(openChat);
  initNewGroup(openChat);
  initReportDialog();
  initMessageInfo();
  initForwardDialog();
  initPins(pinsChanged);
  initQuickSwitcher(openChat);
  initInvite(openChat);
  initNotifier(openChat);
  initSettings();
  initProfileSettings();
  initBlockedSettings();
  initNotificationSettings();
  initLanguageSettings();
  initAppearanceSettings();
  initTwoFactorSettings();
  initDataSettings();
  initAccountSettings();
  initSessionSettings();
  initAccountLinks();
  initCallView();
  initRealtime(onConnected);
  initReceipts();
  initWebPush(openChat);
  onSessionEnded(stopWebPush);
  onSessionEnded(() => state.me && stopClient());
  byId("signout-button").addEventListener("click", async () => {
    await signOutWebPush();
    await signOut();
    stopClient();
  });
  if (currentTokens()) startClient().catch(stopClient);
  else stopClient();
}

boot();
