/*
 * hxoidc auth bridge: popup sign-in / sign-out, cross-tab sync and the header refresh.
 *
 * A static file on purpose: the CSP is script-src 'self' without 'unsafe-inline' / 'unsafe-eval', so there is
 * no inline script, no hx-on, no eval, no htmx trigger filter anywhere.
 *
 * Markup contract (rendered by the views package):
 *   a[data-auth-signin]          Sign in link, href /auth/login?return_to=<path>. Click → popup (href + "&popup=1");
 *                                popup blocked or modifier keys → ordinary navigation (full-page redirect flow).
 *   form[data-auth-signout]      Plain POST form (no hx-post) to /auth/logout with csrf_token. Submit → opened popup
 *                                + hidden popup=1 + target="hxoidc-auth"; blocked → ordinary in-page submit.
 *   #site-header[data-signed-in] The session-aware header (htmx: hx-trigger="auth-changed from:body").
 *   body[data-auth-event][data-return-to]
 *                                The popup's last page (views.PopupDone): announces the event, closes itself, or
 *                                navigates to data-return-to if it cannot.
 *   [data-auth-required] / [data-auth-fallback]
 *                                Hidden / shown when the person turns out to be signed out (profile page).
 *   [data-dismiss] inside [data-dismissible]  A close button (error panel swapped into #flash).
 *   #auth-status                 Polite live region for short notes ("Sign-in window closed.").
 *
 * Messages (BroadcastChannel "hxoidc-auth", and window.postMessage to a same-origin opener):
 *   {type: "hxoidc:auth", event: "signed-in" | "signed-out", id?: string}  a popup finished
 *   {type: "hxoidc:state", signedIn: boolean}                               a tab's header state (tab sync)
 * Anything else, or a postMessage from another origin, is ignored.
 */
(() => {
	"use strict";

	const CHANNEL = "hxoidc-auth";
	const POPUP_NAME = "hxoidc-auth";
	const POPUP_FEATURES = "popup,width=520,height=720";
	const MSG_AUTH = "hxoidc:auth";
	const MSG_STATE = "hxoidc:state";
	const EVENTS = ["signed-in", "signed-out"];
	const RECHECK_AFTER_MS = 30000; // re-check the session when a tab becomes visible after this long
	const STATE_REFRESH_GAP_MS = 2000; // at most one tab-sync triggered refresh per this interval
	const SEVERED_MS = 3000; // a popup "closed" this soon was most likely cut off by the provider's COOP
	const CLOSED_GRACE_MS = 1500; // wait this long for a result before saying the popup was closed

	let channel = null;
	try {
		channel = new BroadcastChannel(CHANNEL);
	} catch {
		// very old browser: postMessage to the opener still works
	}

	/** A same-origin absolute path, else "/". */
	const safePath = (p) =>
		typeof p === "string" && p.startsWith("/") && !p.startsWith("//") && !p.startsWith("/\\") ? p : "/";

	const isAuthMessage = (m) =>
		!!m && typeof m === "object" && m.type === MSG_AUTH && EVENTS.includes(m.event) &&
		(m.id === undefined || typeof m.id === "string");

	const isStateMessage = (m) =>
		!!m && typeof m === "object" && m.type === MSG_STATE && typeof m.signedIn === "boolean";

	const randomId = () => {
		try {
			return crypto.randomUUID();
		} catch {
			return Date.now().toString(36) + Math.random().toString(36).slice(2);
		}
	};

	// ------------------------------------------------------------------ the popup's last page
	const body = document.body;
	if (body && body.hasAttribute("data-auth-event")) {
		const event = body.getAttribute("data-auth-event");
		const returnTo = safePath(body.getAttribute("data-return-to"));
		if (EVENTS.includes(event)) {
			const msg = { type: MSG_AUTH, event, id: randomId() };
			try {
				channel?.postMessage(msg);
			} catch {}
			try {
				const opener = window.opener;
				// Reading location.origin of a cross-origin window throws: that is the same-origin check.
				if (opener && opener !== window && opener.location.origin === location.origin) {
					opener.postMessage(msg, location.origin);
				}
			} catch {}
		}
		// Give the messages a moment to leave, then close. A window the script may not close (a normal tab, or a
		// popup whose opener the provider's COOP severed) stays open: go back into the app instead.
		setTimeout(() => {
			window.close();
			setTimeout(() => {
				if (!window.closed) location.replace(returnTo);
			}, 300);
		}, 50);
		return;
	}

	// ------------------------------------------------------------------ every other page
	const header = () => document.getElementById("site-header");
	const headerSignedIn = () => {
		const h = header();
		return h ? h.getAttribute("data-signed-in") === "true" : null;
	};

	let known = headerSignedIn(); // the state the header showed last
	let lastCheck = Date.now(); // when the header was last (re)loaded or a re-check was asked for
	let lastStateRefresh = 0;
	let stateTimer = 0;
	let pending = null; // {signedIn, initiator, until}: a sign-in/out whose header swap is awaited
	let popup = null; // {kind, win, els, opened, timer}
	let initiatedAt = -Infinity; // when this tab last opened a sign-in / sign-out popup
	const seen = new Set(); // ids of auth messages already handled (BroadcastChannel + postMessage deliver twice)
	let lastAuthMessageAt = 0;
	let closedTimer = 0;

	/** Ask htmx to re-fetch the header and every other session-aware fragment. */
	function authChanged() {
		lastCheck = Date.now();
		if (window.htmx && typeof window.htmx.trigger === "function") {
			window.htmx.trigger(document.body, "auth-changed");
			return true;
		}
		return false;
	}

	function postState() {
		const signedIn = headerSignedIn();
		if (signedIn === null) return;
		try {
			channel?.postMessage({ type: MSG_STATE, signedIn });
		} catch {}
	}

	// ---- status note (#auth-status live region)
	let noteTimer = 0;
	function statusRegion() {
		let region = document.getElementById("auth-status");
		if (!region) {
			region = document.createElement("div");
			region.id = "auth-status";
			region.className = "toast-region";
			region.setAttribute("role", "status");
			document.body.append(region);
		}
		return region;
	}

	function clearNote() {
		clearTimeout(noteTimer);
		document.getElementById("auth-status")?.replaceChildren();
	}

	function note(text, timeoutMs = 8000) {
		const region = statusRegion();
		const toast = document.createElement("div");
		toast.className = "toast";
		const span = document.createElement("span");
		span.textContent = text;
		const close = document.createElement("button");
		close.type = "button";
		close.className = "dismiss";
		close.setAttribute("aria-label", "Dismiss");
		close.textContent = "×";
		close.addEventListener("click", clearNote);
		toast.append(span, close);
		region.replaceChildren(toast);
		clearTimeout(noteTimer);
		if (timeoutMs) noteTimer = setTimeout(clearNote, timeoutMs);
	}

	// ---- popup bookkeeping
	const popupOpen = () => {
		if (!popup) return false;
		try {
			return !popup.win.closed;
		} catch {
			return false;
		}
	};

	function startBusy(kind, win, els) {
		stopBusy();
		clearTimeout(closedTimer);
		initiatedAt = Date.now();
		popup = { kind, win, els: els.filter(Boolean), opened: initiatedAt, timer: setInterval(watchPopup, 400) };
		for (const el of popup.els) {
			el.setAttribute("aria-busy", "true");
			if (el.tagName === "A") el.setAttribute("aria-disabled", "true");
		}
	}

	function stopBusy() {
		if (!popup) return;
		clearInterval(popup.timer);
		for (const el of popup.els) {
			el.removeAttribute("aria-busy");
			el.removeAttribute("aria-disabled");
		}
		popup = null;
	}

	function watchPopup() {
		if (!popup || popupOpen()) return;
		const { kind, opened } = popup;
		const severed = Date.now() - opened < SEVERED_MS;
		stopBusy();
		// "closed" also shows when a Cross-Origin-Opener-Policy switch cut our reference to a window that is
		// still open (typically on the way back from the provider, just before its result arrives over the
		// BroadcastChannel). So wait a moment: a result cancels the note.
		const before = lastAuthMessageAt;
		clearTimeout(closedTimer);
		closedTimer = setTimeout(() => {
			if (lastAuthMessageAt !== before) return;
			if (severed) {
				// "Closed" faster than a person would close it: the provider's COOP most likely cut the reference
				// right away. The window is still there, and its result will still arrive.
				note(kind === "signin" ? "Finish signing in in the sign-in window." : "Finish signing out in the other window.");
			} else {
				note(kind === "signin" ? "Sign-in window closed." : "Sign-out window closed.");
			}
		}, CLOSED_GRACE_MS);
	}

	function focusPopup() {
		try {
			popup?.win.focus();
		} catch {}
	}

	const plainClick = (e) => e.button === 0 && !e.metaKey && !e.ctrlKey && !e.shiftKey && !e.altKey;

	// ---- Sign in: open the login URL in a popup; blocked → let the link navigate (full-page flow)
	document.addEventListener("click", (e) => {
		const a = e.target instanceof Element ? e.target.closest("a[data-auth-signin]") : null;
		if (!a || e.defaultPrevented || !plainClick(e)) return;
		if (popupOpen()) {
			e.preventDefault();
			focusPopup();
			return;
		}
		const url = a.href + (a.href.includes("?") ? "&" : "?") + "popup=1";
		let win = null;
		try {
			win = window.open(url, POPUP_NAME, POPUP_FEATURES);
		} catch {
			win = null;
		}
		if (!win) return; // popup blocked: the normal navigation happens
		e.preventDefault();
		clearNote();
		startBusy("signin", win, [a]);
	});

	// ---- Sign out: submit the plain form into a popup; blocked → normal in-page submit (full-page flow)
	document.addEventListener("submit", (e) => {
		const form = e.target;
		if (!(form instanceof HTMLFormElement) || !form.matches("form[data-auth-signout]") || e.defaultPrevented) return;
		if (popupOpen()) {
			e.preventDefault();
			focusPopup();
			return;
		}
		let win = null;
		try {
			win = window.open("", POPUP_NAME, POPUP_FEATURES); // synchronously, inside the user's gesture
		} catch {
			win = null;
		}
		if (!win) {
			resetSignOutForm(form);
			return; // submits normally in this page
		}
		let field = form.querySelector('input[name="popup"]');
		if (!field) {
			field = document.createElement("input");
			field.type = "hidden";
			field.name = "popup";
			form.append(field);
		}
		field.value = "1";
		form.target = POPUP_NAME;
		clearNote();
		startBusy("signout", win, [e.submitter || form.querySelector("button")]);
		// The submission is already planned with these values; leave the form clean for next time.
		setTimeout(() => resetSignOutForm(form), 0);
	});

	function resetSignOutForm(form) {
		form.removeAttribute("target");
		form.querySelector('input[name="popup"]')?.remove();
	}

	// ---- messages from the popup (BroadcastChannel + opener postMessage) and from other tabs
	function onAuthMessage(msg) {
		if (msg.id) {
			if (seen.has(msg.id)) return;
			seen.add(msg.id);
		}
		const initiator = !!popup || Date.now() - initiatedAt < 15 * 60 * 1000;
		lastAuthMessageAt = Date.now();
		clearTimeout(closedTimer);
		stopBusy();
		clearNote();
		pending = { signedIn: msg.event === "signed-in", initiator, until: Date.now() + 15000 };
		if (!authChanged()) location.reload(); // no htmx: fall back to a reload
	}

	function onStateMessage(msg) {
		const mine = headerSignedIn();
		if (mine === null || mine === msg.signedIn) return;
		const wait = lastStateRefresh + STATE_REFRESH_GAP_MS - Date.now();
		if (wait > 0) {
			// refreshed a moment ago: look again shortly instead of piling up requests
			clearTimeout(stateTimer);
			stateTimer = setTimeout(() => onStateMessage(msg), wait);
			return;
		}
		lastStateRefresh = Date.now();
		authChanged();
	}

	window.addEventListener("message", (e) => {
		if (e.origin !== location.origin || !isAuthMessage(e.data)) return;
		onAuthMessage(e.data);
	});

	channel?.addEventListener("message", (e) => {
		if (isAuthMessage(e.data)) onAuthMessage(e.data);
		else if (isStateMessage(e.data)) onStateMessage(e.data);
	});

	// Session-aware fragments (#site-header, #home-content) carry data-signed-in. A fragment whose state flipped
	// gets the class "auth-swapped" (CSS animates it in); plain re-checks that change nothing stay still.
	const fragmentState = new Map();
	for (const el of document.querySelectorAll("[id][data-signed-in]")) {
		fragmentState.set(el.id, el.getAttribute("data-signed-in"));
	}

	// ---- after htmx swapped something: header state, tab sync, focus, auth-only content
	document.addEventListener("htmx:after:swap", (e) => {
		const el = e.target;
		if (el instanceof Element && el.id && el.hasAttribute("data-signed-in")) {
			const state = el.getAttribute("data-signed-in");
			if (fragmentState.has(el.id) && fragmentState.get(el.id) !== state) el.classList.add("auth-swapped");
			fragmentState.set(el.id, state);
		}
		const h = header();
		if (!h) return;
		const isHeader = e.target === h;
		const now = h.getAttribute("data-signed-in") === "true";
		if (isHeader) lastCheck = Date.now();
		if (now !== known) {
			known = now;
			syncAuthRequired(now);
			announce(now);
			postState();
		} else if (isHeader) {
			postState();
		}
		checkAvatars(h);
		moveFocus();
	});

	function announce(signedIn) {
		if (!pending || pending.signedIn !== signedIn) return;
		if (signedIn) {
			const name = header()?.querySelector(".who-name")?.textContent?.trim();
			note(pending.initiator ? (name ? `Signed in as ${name}.` : "Signed in.") : "Signed in from another window.", 5000);
		} else {
			note(pending.initiator ? "Signed out." : "Signed out from another window.", 5000);
		}
	}

	/** After the swap that follows a sign-in / sign-out, focus Sign out / Sign in, but only if focus was in the
	 *  header (its old node is gone, so focus fell to <body>) or on <body>: never from a field being typed in. */
	function moveFocus() {
		if (!pending) return;
		if (Date.now() > pending.until) {
			pending = null;
			return;
		}
		const h = header();
		if (!h || (h.getAttribute("data-signed-in") === "true") !== pending.signedIn) return;
		const active = document.activeElement;
		const free = !active || active === document.body || active === document.documentElement || h.contains(active);
		if (!free) return; // maybe a later swap (e.g. #home-content) frees it; else `pending` expires
		const target = pending.signedIn
			? h.querySelector("form[data-auth-signout] button")
			: h.querySelector("a[data-auth-signin]");
		if (target) {
			target.focus({ preventScroll: true });
			pending = null;
		}
	}

	/** Signed out while looking at signed-in-only content (profile): hide it. Signed back in: reload it. */
	function syncAuthRequired(signedIn) {
		const required = [...document.querySelectorAll("[data-auth-required]")];
		if (!required.length) return;
		if (!signedIn) {
			for (const el of required) el.hidden = true;
			for (const el of document.querySelectorAll("[data-auth-fallback]")) el.hidden = false;
		} else if (required.some((el) => el.hidden)) {
			location.reload();
		}
	}

	// ---- avatar pictures that fail to load fall back to the initials
	function toInitials(img) {
		const span = document.createElement("span");
		span.className = img.className + " avatar-initials";
		span.setAttribute("aria-hidden", "true");
		span.textContent = img.getAttribute("data-initials") || "?";
		img.replaceWith(span);
	}

	function checkAvatars(root) {
		for (const img of root.querySelectorAll("img.avatar")) {
			if (img.complete && img.naturalWidth === 0) toInitials(img);
		}
	}

	document.addEventListener(
		"error",
		(e) => {
			if (e.target instanceof HTMLImageElement && e.target.matches("img.avatar")) toInitials(e.target);
		},
		true,
	);

	// ---- dismiss buttons (the error panel swapped into #flash)
	document.addEventListener("click", (e) => {
		const btn = e.target instanceof Element ? e.target.closest("[data-dismiss]") : null;
		if (!btn || btn.closest("#auth-status")) return;
		const box = btn.closest("[data-dismissible]");
		if (box) {
			box.remove();
			document.getElementById("main")?.focus({ preventScroll: true });
		}
	});

	// ---- cheap session re-checks
	document.addEventListener("visibilitychange", () => {
		if (document.visibilityState === "visible" && Date.now() - lastCheck > RECHECK_AFTER_MS) authChanged();
	});
	window.addEventListener("pageshow", (e) => {
		if (e.persisted) authChanged(); // restored from the back/forward cache: the session may have changed
	});

	checkAvatars(document);
	postState();
})();
