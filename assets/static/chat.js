// Chatzilla's own behaviour on top of htmx. Everything here is an
// enhancement: without JavaScript the page works as plain forms.
(() => {
	"use strict";
	document.documentElement.classList.add("js");

	// Times arrive in UTC from the server; show them in the reader's zone.
	const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
	const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
	function localiseTimes(root) {
		for (const t of root.querySelectorAll("time[datetime]")) {
			const d = new Date(t.dateTime);
			if (!Number.isNaN(d.getTime())) {
				t.textContent = clock.format(d);
				t.title = full.format(d);
			}
		}
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

	function start() {
		const list = document.getElementById("messages");
		if (!list) return;
		const hint = document.getElementById("new-messages");
		const connection = document.getElementById("connection");
		localiseTimes(list);

		// Keep the newest message in view while the reader is at the bottom;
		// when they have scrolled up to read, do not move, offer a hint.
		const nearBottom = 48; // px: "at the bottom" allows for rounding and a partly shown line
		let atBottom = true;
		let height = list.scrollHeight;
		const toBottom = () => { list.scrollTop = list.scrollHeight; };
		list.addEventListener("scroll", () => {
			atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < nearBottom;
			if (atBottom) hint.hidden = true;
			height = list.scrollHeight;
		}, { passive: true });
		hint.addEventListener("click", () => { toBottom(); hint.hidden = true; });

		new MutationObserver((records) => {
			let appended = false;
			for (const r of records) {
				for (const n of r.addedNodes) {
					if (n.nodeType !== Node.ELEMENT_NODE) continue;
					localiseTimes(n);
					if (n === list.lastElementChild) appended = true;
				}
			}
			if (!appended) {
				// Older messages went in at the top: keep what the reader
				// was looking at where it was.
				list.scrollTop += list.scrollHeight - height;
			} else if (atBottom) {
				toBottom();
			} else {
				hint.hidden = false;
			}
			height = list.scrollHeight;
		}).observe(list, { childList: true });
		toBottom();

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
		list.addEventListener("htmx:sse:after:connection", () => { connection.hidden = true; });
		list.addEventListener("htmx:sse:close", down);
		list.addEventListener("chatzilla-reload", (e) => reloadList(list, e.detail && e.detail.data));

		const box = document.getElementById("message");
		if (box && box.value === "" && savedDraft()) {
			box.value = savedDraft();
			box.focus();
		}
	}

	// A page too far behind for the stream to replay what it missed (a
	// laptop that slept through a busy afternoon) is told so by a named
	// event: the list is then fetched afresh, as a page load would show it.
	// Messages that arrived live meanwhile are kept, and the draft in the
	// composer is not touched. If the fetch fails, the event's own notice,
	// a link to reload the page, is shown instead.
	async function reloadList(list, notice) {
		const idOf = (li) => Number((li.id || "").replace(/^m-/, "")) || 0;
		try {
			const res = await fetch("/", { headers: { Accept: "text/html" }, credentials: "same-origin" });
			if (!res.ok) throw new Error("status " + res.status);
			const fresh = new DOMParser().parseFromString(await res.text(), "text/html").getElementById("messages");
			if (!fresh) throw new Error("no message list");
			const items = Array.from(fresh.children, (n) => document.importNode(n, true));
			const newest = Math.max(0, ...items.map(idOf));
			const live = Array.from(list.children).filter((li) => idOf(li) > newest);
			list.replaceChildren(...items, ...live);
			if (window.htmx) window.htmx.process(list); // "Load older messages"
		} catch {
			if (notice) list.insertAdjacentHTML("beforeend", notice);
		}
	}

	if (document.readyState === "loading") {
		document.addEventListener("DOMContentLoaded", start);
	} else {
		start();
	}
})();
