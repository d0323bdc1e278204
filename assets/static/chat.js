// Chatzilla's own behaviour on top of htmx. Everything here is an
// enhancement: without JavaScript the page works as plain forms.
(() => {
	"use strict";
	document.documentElement.classList.add("js");

	// htmx's SSE extension closes the stream of a tab in the background by
	// default. Chatzilla keeps it: the reader is still in the chat (and
	// online), and the tab's title counts what they have not read.
	//
	// A server that shuts down tells each page how long to wait before it
	// reconnects (a retry field, spread so that pages do not all arrive at
	// once). htmx then keeps that wait as the base of every later reconnect,
	// doubled after each failed one; once the stream is open again, its own
	// default is put back (see the after:connection listener below).
	const reconnectDelay = 500;
	if (window.htmx) htmx.config.sse = Object.assign({}, htmx.config.sse, { pauseOnBackground: false, reconnectDelay });

	// Times arrive in UTC from the server; show them in the reader's zone and
	// format, without a leading zero ("9:05", "9:05 PM").
	const clock = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
	const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
	const dayName = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
	const dayYear = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
	const shortClock = (d) => clock.formatToParts(d).map((p) => p.type === "hour" ? p.value.replace(/^0(?=\d)/, "") : p.value).join("");
	const dayKey = (d) => d.getFullYear() + "-" + d.getMonth() + "-" + d.getDate();
	function dayLabel(d) {
		const today = new Date(), yesterday = new Date();
		yesterday.setDate(today.getDate() - 1);
		if (dayKey(d) === dayKey(today)) return "Today";
		if (dayKey(d) === dayKey(yesterday)) return "Yesterday";
		return (d.getFullYear() === today.getFullYear() ? dayName : dayYear).format(d);
	}
	const sentAt = (li) => new Date(li.querySelector("time:not(.day)")?.dateTime);

	// Each message as this reader sees it: the time in their zone, "(you)"
	// on their own, and the day lines where their days begin (the server
	// draws them at UTC midnight). The list is redone as a whole: a few
	// hundred items at most.
	const me = document.querySelector("[data-me]")?.dataset.me;

	// The room the page shows, by its slug ("general" for general), and its
	// page, which "/" is for general.
	const app = document.querySelector(".app[data-room]");
	const room = app ? app.dataset.room : "";
	const roomURL = room && room !== "general" ? "/rooms/" + encodeURIComponent(room) : "/";
	const idOf = (li) => Number((li.id || "").replace(/^m-/, "")) || 0;
	function localise(list) {
		let previousDay = null;
		for (const li of list.querySelectorAll(":scope > li.msg")) {
			const d = sentAt(li);
			if (Number.isNaN(d.getTime())) continue;
			const t = li.querySelector("time:not(.day)");
			t.textContent = shortClock(d);
			t.title = full.format(d);
			li.classList.toggle("own", li.querySelector("b")?.textContent === me);
			const key = dayKey(d);
			let day = li.querySelector(":scope > time.day");
			if (key !== previousDay) {
				if (!day) {
					day = document.createElement("time");
					day.className = "day";
					li.prepend(day);
				}
				day.dateTime = d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
				day.textContent = dayLabel(d);
				li.classList.add("newday");
			} else if (day) {
				day.remove();
				li.classList.remove("newday");
			}
			previousDay = key;
		}
	}

	// Joins and leaves in a row, with no message between, read as one
	// notice: "alice@… and 2 others joined". Every notice stays in the
	// list (screen readers have announced each); all but the first of a
	// run are hidden, and the first says how many more there were.
	function mergeNotices(list) {
		let first = null, more = 0;
		const close = () => {
			const b = first && first.querySelector("b");
			if (b) b.dataset.more = more === 0 ? "" : more === 1 ? " and 1 other" : " and " + more + " others";
		};
		for (const li of list.children) {
			const event = li.matches("li.notice[data-event]") && li.querySelector("b") ? li.dataset.event : null;
			if (first && event === first.dataset.event) {
				li.hidden = true;
				more++;
				continue;
			}
			close();
			first = event ? li : null;
			more = 0;
			if (first) first.hidden = false;
		}
		close();
	}

	// Enter sends, Shift+Enter adds a line. Listening on the document keeps
	// working after htmx swaps in a fresh composer.
	document.addEventListener("keydown", (e) => {
		const box = e.target;
		if (box.id !== "message" || e.key !== "Enter" || e.shiftKey || e.isComposing) return;
		e.preventDefault();
		if (box.value.trim() !== "" && !box.disabled) box.form.requestSubmit();
	});

	// Nothing a person types is lost. The draft is kept in this tab's
	// sessionStorage until the server has the message, so a reload or
	// joining again after the session ended brings it back. A send that
	// fails comes back as a composer with the reason; one that gets no
	// answer at all is offered again with Retry.
	const drafts = (() => {
		try { return window.sessionStorage; } catch { return null; } // storage turned off
	})();
	// Per person and page: someone else joining in this tab must not get it.
	function draftKey() {
		const me = document.querySelector("#session-ended input[name=email]");
		return me ? "chatzilla-draft:" + me.value + ":" + location.pathname : "";
	}
	function keepDraft(text) {
		const key = draftKey();
		if (!drafts || !key) return;
		try {
			if (text) drafts.setItem(key, text); else drafts.removeItem(key);
		} catch { /* storage full: the box still holds the text */ }
	}
	function savedDraft() {
		const key = draftKey();
		return (drafts && key && drafts.getItem(key)) || "";
	}
	const isComposer = (e) => e.target.id === "composer";

	document.addEventListener("input", (e) => {
		if (e.target.id === "message") keepDraft(e.target.value);
	});

	// sending is the send under way, until it is stored: its text and its
	// one-time key, which makes sending it again safe.
	let sending = null;
	document.addEventListener("htmx:before:request", (e) => {
		if (!isComposer(e)) return;
		const form = e.target.elements;
		sending = { text: form.message.value, key: form.key ? form.key.value : "" };
		keepDraft(sending.text);
		notSent(false);
	});
	document.addEventListener("htmx:after:request", (e) => {
		const status = e.detail.ctx.response.status;
		if (status === 401) {
			sessionEnded();
			// The stream's first answer: the bar says it all, and the
			// list is left as it is.
			if (e.target.id === "messages") e.preventDefault();
		}
		if (isComposer(e) && status < 400) {
			sending = null;
			keepDraft("");
		}
	});
	// A composer the server sent back after a failure holds the text and
	// key, unless the server refused to read them (too large, another
	// site's request): then they are put back from here.
	document.addEventListener("htmx:after:init", (e) => {
		if (!isComposer(e) || sending === null) return;
		const form = e.target.elements;
		if (form.message.value === "") {
			form.message.value = sending.text;
			if (form.key && sending.key) form.key.value = sending.key;
		}
		sending = null;
		form.message.focus();
	});
	// No answer at all: the network is down or the send timed out. Nothing
	// was swapped, so the text is still in the box.
	document.addEventListener("htmx:error", (e) => {
		if (!isComposer(e) || !e.detail.ctx) return;
		sending = null;
		notSent(true);
		// htmx enables the box again once this event is over; focus then.
		setTimeout(() => e.target.elements.message.focus(), 0);
	});
	document.addEventListener("click", (e) => {
		if (e.target.id === "retry") e.target.form.requestSubmit();
	});

	function notSent(show) {
		const shown = document.getElementById("not-sent");
		if (!show) {
			if (shown) shown.remove();
			return;
		}
		if (shown) return;
		const note = document.createElement("p");
		note.id = "not-sent";
		note.className = "error";
		note.setAttribute("role", "alert");
		const retry = document.createElement("button");
		retry.type = "button";
		retry.id = "retry";
		retry.className = "secondary";
		retry.textContent = "Retry";
		note.append("Not sent. ", retry);
		document.querySelector("#composer .row").after(note);
	}

	// The session is gone (a new server secret, Leave on another device):
	// say so and offer Join again, instead of reconnecting forever.
	let ended = false;
	function sessionEnded() {
		const bar = document.getElementById("session-ended");
		if (!bar || ended) return;
		ended = true;
		bar.hidden = false;
		const connection = document.getElementById("connection");
		if (connection) connection.hidden = true;
	}

	// The composer: Send only when there is something to send, the error
	// gone once the text changes, a count of what is left near the limit,
	// and a box that grows where CSS field-sizing is missing.
	const growsByItself = CSS.supports("field-sizing", "content");
	function composerChanged(box, typed) {
		if (!box || box.id !== "message") return;
		const send = document.getElementById("send");
		if (send && !box.disabled) send.disabled = box.value.trim() === "";
		if (typed) {
			document.getElementById("message-error")?.remove();
			box.removeAttribute("aria-invalid");
			box.removeAttribute("aria-errormessage");
		}
		const left = document.getElementById("message-left");
		const max = box.maxLength;
		if (left && max > 0) {
			const remaining = max - box.value.length;
			left.hidden = remaining > Math.max(100, max / 10);
			left.textContent = remaining >= 0 ? remaining + " characters left" : -remaining + " characters too many";
			left.classList.toggle("over", remaining < 0);
		}
		if (!growsByItself) {
			box.style.height = "auto";
			box.style.height = box.scrollHeight + 2 + "px";
		}
	}
	document.addEventListener("input", (e) => composerChanged(e.target, true));
	const composerNow = () => composerChanged(document.getElementById("message"), false);

	function start() {
		const list = document.getElementById("messages");
		composerNow();
		// htmx swaps in a fresh composer after each send, and turns Send
		// back on once a request is over, whatever the box holds.
		document.addEventListener("htmx:after:swap", composerNow);
		document.addEventListener("htmx:finally:request", () => setTimeout(composerNow));
		hideOwnMessageButton();
		const people = document.getElementById("people-popover");
		if (people) new MutationObserver(hideOwnMessageButton).observe(people, { childList: true, subtree: true });
		if (!list) return;
		const scroller = document.getElementById("scroller") || list;
		const hint = document.getElementById("new-messages");
		const connection = document.getElementById("connection");
		localise(list);
		mergeNotices(list);

		// Keep the newest message in view while the reader is at the bottom;
		// when they have scrolled up to read, do not move, offer a hint
		// that counts what came since.
		const nearBottom = 48; // px: "at the bottom" allows for rounding and a partly shown line
		let atBottom = true;
		let height = scroller.scrollHeight;
		let unseen = 0;
		const toBottom = () => { scroller.scrollTop = scroller.scrollHeight; };
		const showHint = () => {
			hint.textContent = unseen === 1 ? "1 new message ↓" : unseen > 1 ? unseen + " new messages ↓" : "New messages ↓";
			hint.hidden = false;
		};
		const hideHint = () => { hint.hidden = true; unseen = 0; };
		scroller.addEventListener("scroll", () => {
			atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < nearBottom;
			if (atBottom) hideHint();
			height = scroller.scrollHeight;
		}, { passive: true });
		hint.addEventListener("click", () => { toBottom(); hideHint(); });

		// The title counts what the reader has not read: the badges of
		// their other rooms, which the stream updates, and the messages
		// that came into this room while the tab was hidden.
		const title = (app && app.dataset.title) || document.title.replace(/^\(\d+\+?\) /, "");
		let unread = 0;
		const retitle = () => {
			let elsewhere = 0;
			for (const badge of document.querySelectorAll("#rooms .unread")) {
				if (!badge.closest("[aria-current]")) elsewhere += parseInt(badge.textContent, 10) || 0;
			}
			const total = document.getElementById("unread-total");
			if (total) total.textContent = elsewhere > 99 ? "99+" : elsewhere > 0 ? String(elsewhere) : "";
			const n = elsewhere + unread;
			document.title = n > 0 ? "(" + n + ") " + title : title;
		};
		const sidebar = document.getElementById("rooms-popover");
		if (sidebar) new MutationObserver(retitle).observe(sidebar, { childList: true, characterData: true, subtree: true });

		// Reading: while the page is visible, the server is told the newest
		// message shown, at most once every 2 s (and at once when the tab
		// comes back), so that the badges of this room elsewhere (other
		// tabs, devices) go. Loading the page counted as reading it. A
		// report that fails is of no matter: the next one says as much.
		const newestShown = () => {
			const items = list.querySelectorAll(":scope > li.msg");
			for (let i = items.length - 1; i >= 0; i--) {
				const id = idOf(items[i]);
				if (id) return id;
			}
			return 0;
		};
		// seenUpTo is the newest message shown while the page was visible;
		// readUpTo the newest the server was told of. A page that is left
		// (another room clicked, the tab closed or hidden) sends what it
		// has not told yet at once, as a beacon, which outlives the page.
		let readUpTo = newestShown(), seenUpTo = readUpTo, reportedAt = 0, reportTimer = 0;
		const reportRead = (now, leaving) => {
			if (!room) return;
			if (!document.hidden) seenUpTo = Math.max(seenUpTo, newestShown());
			const id = seenUpTo;
			if (id <= readUpTo) return;
			const wait = reportedAt + 2000 - Date.now();
			if (!now && !leaving && wait > 0) {
				if (!reportTimer) reportTimer = setTimeout(() => { reportTimer = 0; reportRead(false); }, wait);
				return;
			}
			clearTimeout(reportTimer);
			reportTimer = 0;
			readUpTo = id;
			reportedAt = Date.now();
			const url = "/rooms/" + encodeURIComponent(room) + "/read", body = new URLSearchParams({ id: String(id) });
			if (leaving && navigator.sendBeacon && navigator.sendBeacon(url, body)) return;
			return fetch(url, { method: "POST", body, credentials: "same-origin", keepalive: !!leaving }).catch(() => {});
		};
		// A link followed within the wait (another room, most often) would
		// load its page before the report arrived, and show this room's
		// last messages as unread there: the report goes first, for at
		// most half a second.
		document.addEventListener("click", (e) => {
			const a = e.target.closest && e.target.closest("a[href]");
			if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || a.target || a.origin !== location.origin) return;
			// htmx's own links ("Load older messages") stay on the page.
			if (a.closest("[hx-get], [hx-post], [hx-boost]")) return;
			if (!document.hidden) seenUpTo = Math.max(seenUpTo, newestShown());
			if (seenUpTo <= readUpTo) return;
			e.preventDefault();
			const go = () => location.assign(a.href);
			Promise.race([reportRead(true), new Promise((resolve) => setTimeout(resolve, 500))]).then(go, go);
		});

		document.addEventListener("visibilitychange", () => {
			if (document.hidden) {
				reportRead(true, true);
				return;
			}
			unread = 0;
			retitle();
			reportRead(true);
		});
		window.addEventListener("pagehide", () => reportRead(true, true));

		new MutationObserver((records) => {
			let appended = false, messages = 0;
			for (const r of records) {
				for (const n of r.addedNodes) {
					if (n.nodeType !== Node.ELEMENT_NODE) continue;
					if (n === list.lastElementChild) appended = true;
					if (n.matches("li.msg")) messages++;
				}
			}
			localise(list);
			mergeNotices(list);
			if (!appended) {
				// Older messages went in at the top: keep what the reader
				// was looking at where it was.
				scroller.scrollTop += scroller.scrollHeight - height;
			} else if (atBottom) {
				toBottom();
			} else if (messages > 0) {
				unseen += messages;
				showHint();
			}
			if (appended && document.hidden && messages > 0) {
				unread += messages;
				retitle();
			}
			if (messages > 0) reportRead(false);
			height = scroller.scrollHeight;
		}).observe(list, { childList: true });
		toBottom();
		// Opening a room with more unread than fits: start at the line above
		// the first of them rather than at the newest.
		const since = document.getElementById("new-since");
		if (since && since.getBoundingClientRect().top < scroller.getBoundingClientRect().top) {
			scroller.scrollTop += since.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
			atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < nearBottom;
		}

		// A phone's keyboard opening, or a rotation, shrinks the list: a
		// reader at the bottom stays at the newest message.
		window.visualViewport?.addEventListener("resize", () => {
			if (atBottom) requestAnimationFrame(toBottom);
		});

		// The stream's state: htmx's SSE extension reconnects by itself (with
		// Last-Event-ID, so missed messages arrive); say so while it does.
		// A stream answered 401 will never come back: the session ended.
		const down = () => { connection.hidden = ended; };
		list.addEventListener("htmx:sse:error", (e) => {
			if (e.detail.status === 401) sessionEnded(); else down();
		});
		list.addEventListener("htmx:sse:before:connection", (e) => {
			if (ended) e.detail.connection.cancelled = true; // stop trying
			else if (e.detail.connection && e.detail.connection.attempt > 0) down();
		});
		list.addEventListener("htmx:sse:after:connection", (e) => {
			connection.hidden = true;
			const config = e.detail.connection && e.detail.connection.config;
			if (config) config.reconnectDelay = reconnectDelay;
		});
		list.addEventListener("htmx:sse:close", down);
		// The first connect is a plain request: if it fails (the page loaded
		// as the server restarted, or the network was down), the extension
		// never starts its own reconnecting. Try again as it would, with a
		// growing wait, until the stream is open.
		let firstTries = 0;
		list.addEventListener("htmx:finally:request", (e) => {
			if (e.target !== list || (list._htmx && list._htmx.sse) || ended) return;
			const status = e.detail.ctx && e.detail.ctx.response && e.detail.ctx.response.status;
			if (status === 401) {
				sessionEnded();
				return;
			}
			down();
			const wait = Math.min(reconnectDelay * 2 ** firstTries++, 60000) * (0.7 + 0.6 * Math.random());
			setTimeout(() => {
				if (!ended && list.isConnected && !(list._htmx && list._htmx.sse)) {
					window.htmx.ajax("GET", list.getAttribute("hx-sse:connect"), { source: list });
				}
			}, wait);
		});
		list.addEventListener("chatzilla-reload", (e) => reloadList(list, e.detail && e.detail.data));

		const box = document.getElementById("message");
		if (box && box.value === "" && savedDraft()) {
			box.value = savedDraft();
			box.focus();
		}
	}

	// A stream's "who's online" is the same for every reader, with a
	// Message button for each person: the reader's own is hidden here.
	function hideOwnMessageButton() {
		for (const form of document.querySelectorAll("#people form.dm")) {
			const hide = form.elements.email?.value === me;
			if (form.hidden !== hide) form.hidden = hide;
		}
	}

	// A page too far behind for the stream to replay what it missed (a
	// laptop that slept through a busy afternoon) is told so by a named
	// event: the list is then fetched afresh, as a page load would show it.
	// Messages that arrived live meanwhile are kept, and the draft in the
	// composer is not touched. If the fetch fails, the event's own notice,
	// a link to reload the page, is shown instead.
	async function reloadList(list, notice) {
		try {
			const res = await fetch(roomURL, { headers: { Accept: "text/html" }, credentials: "same-origin" });
			if (!res.ok) throw new Error("status " + res.status);
			const fresh = new DOMParser().parseFromString(await res.text(), "text/html").getElementById("messages");
			if (!fresh) throw new Error("no message list");
			const items = Array.from(fresh.children, (n) => document.importNode(n, true));
			const newest = Math.max(0, ...items.map(idOf));
			const live = Array.from(list.children).filter((li) => idOf(li) > newest);
			list.replaceChildren(...items, ...live);
			if (window.htmx) window.htmx.process(list); // "Load older messages"
		} catch {
			if (notice) {
				list.insertAdjacentHTML("beforeend", notice);
				// The notice is the same for every room; its link is this one's.
				const link = list.lastElementChild && list.lastElementChild.querySelector("a");
				if (link) link.href = roomURL;
			}
		}
	}

	if (document.readyState === "loading") {
		document.addEventListener("DOMContentLoaded", start);
	} else {
		start();
	}
})();
