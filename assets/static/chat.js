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
		const down = () => { connection.hidden = false; };
		list.addEventListener("htmx:sse:error", down);
		list.addEventListener("htmx:sse:before:connection", (e) => {
			if (e.detail.connection && e.detail.connection.attempt > 0) down();
		});
		list.addEventListener("htmx:sse:after:connection", () => { connection.hidden = true; });
		list.addEventListener("htmx:sse:close", down);
		list.addEventListener("chatzilla-reload", (e) => reloadList(list, e.detail && e.detail.data));
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
