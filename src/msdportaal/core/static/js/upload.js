/*
 * MSD Portaal — upload, check and confirmation pages.
 *
 * Progressive enhancement only; every page works without this script.
 *   - form[data-msd-upload]: lists the chosen files in [data-msd-progress-list],
 *     accepts files dropped on [data-msd-dropzone] and sends them with a progress bar
 *     per file. With tus-js-client (vendor/tus-js-client) each file is a resumable tus
 *     upload to [data-msd-tus-endpoint]: a dropped connection is retried and resumes
 *     where it stopped, and a reload of the page finds the upload again. When all files
 *     are in, their ids go to [data-msd-tus-finish], which checks them as the form
 *     would. If the server refuses an upload before it starts (a wrong name, too large),
 *     or tus is not available, the normal multipart POST is sent with one
 *     XMLHttpRequest instead, so the server's own Dutch refusal is shown. Either way the
 *     answer is shown as if the form had been posted normally: after a redirect (to the
 *     check page) we go there; a page with errors replaces <main>.
 *   - [data-msd-once]: a second submit of its form is ignored (no double delivery).
 *   - [data-msd-print]: shown (it is hidden without JavaScript) and prints the page.
 */
(function () {
  "use strict";

  const TEXT = {
    waiting: "nog niet geüpload",
    uploading: "Bezig met uploaden…",
    uploaded: "Geüpload",
    checking: "Alle bestanden zijn geüpload. Het portaal controleert ze nu…",
    notUploaded: "Niet geüpload",
    networkError: "Het uploaden is mislukt door een verbindingsprobleem. Probeer het opnieuw.",
    resumeError: "De verbinding is verbroken en kwam niet terug. Kies dezelfde bestanden en klik " +
      "opnieuw op uploaden: wat al is aangekomen, wordt niet opnieuw verstuurd.",
    retrying: "Verbinding verbroken; het portaal probeert het opnieuw…"
  };
  const decimal = new Intl.NumberFormat("nl-NL", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  let fieldCounter = 0;

  /* "12,3 MB"; `reference` picks the unit so "0,5 MB van 48,0 MB" stays comparable. */
  function amount(bytes, reference) {
    if (reference >= 1e6) {
      return decimal.format(bytes / 1e6) + " MB";
    }
    if (reference >= 1e3) {
      return decimal.format(bytes / 1e3) + " kB";
    }
    return Math.round(bytes) + (Math.round(bytes) === 1 ? " byte" : " bytes");
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function setButtonDisabled(button, disabled) {
    // aria-disabled instead of the disabled property: the button keeps focus and its name/value.
    if (!button) {
      return;
    }
    button.classList.toggle("utrecht-button--disabled", disabled);
    if (disabled) {
      button.setAttribute("aria-disabled", "true");
    } else {
      button.removeAttribute("aria-disabled");
    }
  }

  function withoutHash(url) {
    return String(url).split("#")[0];
  }

  /* ---------------------------------------------------------------- upload */

  function enhanceUpload(form) {
    const input = form.querySelector('input[type="file"]');
    const list = form.querySelector("[data-msd-progress-list]");
    const button = form.querySelector("[data-msd-upload-submit]");
    const zone = form.querySelector("[data-msd-dropzone]");
    if (!input || !list || typeof FormData !== "function") {
      return;
    }
    let rows = [];
    let summary = null;
    let busy = false;

    function showFiles() {
      const files = Array.from(input.files || []);
      list.replaceChildren();
      rows = [];
      summary = null;
      if (!files.length) {
        return;
      }
      const total = files.reduce((sum, file) => sum + file.size, 0);
      summary = element("p", "utrecht-paragraph msd-upload__summary",
        (files.length === 1 ? "1 bestand gekozen" : files.length + " bestanden gekozen") +
        " (" + amount(total, total) + ")");
      const ul = element("ul", "msd-upload__list");
      let start = 0;
      for (const file of files) {
        const id = "msd-upload-file-" + (++fieldCounter);
        const li = element("li", "msd-progress-field");
        const label = element("span", "msd-progress-field__label", file.name);
        const progress = element("progress", "msd-progress");
        const status = element("span", "msd-progress-field__status", amount(file.size, file.size) + ", " + TEXT.waiting);
        label.id = id;
        status.id = id + "-status";
        progress.max = 100;
        progress.value = 0;
        progress.setAttribute("aria-labelledby", id);
        progress.setAttribute("aria-describedby", status.id);
        li.append(label, progress, status);
        ul.append(li);
        rows.push({ file, start, progress, status, shownPercent: -1, shownAt: 0 });
        start += file.size;
      }
      list.append(summary, ul);
    }

    function sameFiles() {
      const files = input.files || [];
      return files.length === rows.length && rows.every((row, i) => row.file === files[i]);
    }

    function setSummary(text) {
      if (summary) {
        summary.textContent = text;
      }
    }

    /* Spread the overall fraction over the files, in the order they are sent. */
    function showProgress(fraction) {
      const total = rows.reduce((sum, row) => sum + row.file.size, 0);
      const sent = fraction * total;
      const now = Date.now();
      for (const row of rows) {
        const size = row.file.size;
        const done = Math.min(size, Math.max(0, sent - row.start));
        const percent = size ? Math.floor((done / size) * 100) : (fraction >= 1 ? 100 : 0);
        row.progress.value = percent;
        // The list is a polite live region: change the text only every 10% and at most once a
        // second (or after 10 s of slow progress), but always when a file is complete.
        const step = Math.floor(percent / 10) !== Math.floor(row.shownPercent / 10);
        const due = (step && now - row.shownAt >= 1000) || (percent > row.shownPercent && now - row.shownAt >= 10000);
        if (percent === row.shownPercent || (percent < 100 && !due)) {
          continue;
        }
        row.shownPercent = percent;
        row.shownAt = now;
        if (percent === 100) {
          row.progress.classList.add("msd-progress--ok");
          row.status.textContent = TEXT.uploaded + " (" + amount(size, size) + ")";
        } else {
          row.status.textContent = amount(done, size) + " van " + amount(size, size) + " (" + percent + "%)";
        }
      }
    }

    function setBusy(value) {
      busy = value;
      input.disabled = value;
      setButtonDisabled(button, value);
      form.classList.toggle("msd-upload--busy", value);
    }

    function removeError() {
      const old = form.parentNode.querySelector("[data-msd-upload-error]");
      if (old) {
        old.remove();
      }
    }

    function fail(text) {
      form.removeAttribute("data-msd-submitted");
      setBusy(false);
      setSummary("");
      for (const row of rows) {
        row.progress.classList.remove("msd-progress--ok");
        row.progress.classList.add("msd-progress--error");
        row.status.textContent = TEXT.notUploaded;
      }
      removeError();
      const alert = element("div", "utrecht-alert utrecht-alert--error");
      alert.setAttribute("role", "alert");
      alert.setAttribute("data-msd-upload-error", "");
      const content = element("div", "utrecht-alert__content");
      const message = element("div", "utrecht-alert__message");
      message.append(element("p", "utrecht-paragraph", typeof text === "string" ? text : TEXT.networkError));
      content.append(message);
      alert.append(content);
      form.before(alert);
    }

    /* Show the server's page (e.g. 400 with the refused files) as a normal POST would. */
    function showPage(html) {
      const doc = new DOMParser().parseFromString(html, "text/html");
      const newMain = doc.querySelector("main");
      const oldMain = document.querySelector("main");
      if (!newMain || !oldMain) {
        document.open();
        document.write(html);
        document.close();
        return;
      }
      document.title = doc.title;
      oldMain.replaceWith(newMain);
      enhance(newMain);
      const target = newMain.querySelector("#upload-errors, [role='alert']") || newMain;
      if (!target.hasAttribute("tabindex")) {
        target.setAttribute("tabindex", "-1");
      }
      target.focus();
      target.scrollIntoView({ block: "start" });
    }

    function start() {
      if (!sameFiles()) {
        showFiles();
      }
      removeError();
      setBusy(true);
      for (const row of rows) {
        row.progress.classList.remove("msd-progress--ok", "msd-progress--error");
        row.shownPercent = -1;
        row.shownAt = 0;
      }
      showProgress(0);
      setSummary(TEXT.uploading);
    }

    /* The server's answer to a POST, shown as if the form had been posted normally. */
    function answer(xhr, postUrl) {
      xhr.addEventListener("load", () => {
        if (xhr.status === 0) {
          fail();
        } else if (xhr.responseURL && withoutHash(xhr.responseURL) !== postUrl) {
          // The server redirected (to the check page, or to the login page): go there.
          window.location.href = xhr.responseURL;
        } else {
          showPage(xhr.responseText);
        }
      });
      xhr.addEventListener("error", () => fail());
      xhr.addEventListener("timeout", () => fail());
    }

    const tusEndpoint = form.getAttribute("data-msd-tus-endpoint");
    const tusFinish = form.getAttribute("data-msd-tus-finish");
    const tusChunk = parseInt(form.getAttribute("data-msd-tus-chunk"), 10) || 8 * 1024 * 1024;
    const tusAvailable = Boolean(window.tus && window.tus.isSupported && tusEndpoint && tusFinish);

    function csrfToken() {
      const field = form.querySelector('input[name="csrfmiddlewaretoken"]');
      return field ? field.value : "";
    }

    /* One file as a resumable upload; resolves with its id, rejects with the tus error. */
    function sendResumable(row, sentBefore, total) {
      return new Promise((resolve, reject) => {
        const upload = new window.tus.Upload(row.file, {
          endpoint: tusEndpoint,
          chunkSize: tusChunk,
          retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
          headers: { "X-CSRFToken": csrfToken() },
          metadata: { filename: row.file.name },
          removeFingerprintOnSuccess: true,
          onShouldRetry: (error) => {
            const status = error.originalResponse ? error.originalResponse.getStatus() : 0;
            if (status >= 400 && status < 500 && status !== 409 && status !== 423) {
              return false; // refused: the plain form will say why
            }
            setSummary(TEXT.retrying);
            return true;
          },
          onProgress: (bytesSent) => {
            setSummary(TEXT.uploading);
            showProgress(total ? (sentBefore + bytesSent) / total : 1);
          },
          onError: reject,
          onSuccess: () => resolve(upload.url.replace(/\/$/, "").split("/").pop())
        });
        upload.findPreviousUploads().then((previous) => {
          if (previous.length) {
            upload.resumeFromPreviousUpload(previous[0]);
          }
          upload.start();
        }, () => upload.start());
      });
    }

    async function sendResumably() {
      start();
      const total = rows.reduce((sum, row) => sum + row.file.size, 0);
      const ids = [];
      let sentBefore = 0;
      for (const row of rows) {
        try {
          ids.push(await sendResumable(row, sentBefore, total));
        } catch (error) {
          const status = error && error.originalResponse ? error.originalResponse.getStatus() : 0;
          if (status >= 400 && status < 500) {
            setBusy(false);
            send(); // refused before it started: the server's own page says why
          } else {
            fail(TEXT.resumeError);
          }
          return;
        }
        sentBefore += row.file.size;
      }
      showProgress(1);
      setSummary(rows.length ? TEXT.checking : "");
      const data = new FormData();
      data.append("csrfmiddlewaretoken", csrfToken());
      ids.forEach((id) => data.append("uploads", id));
      const xhr = new XMLHttpRequest();
      xhr.open("POST", tusFinish);
      answer(xhr, withoutHash(new URL(tusFinish, window.location.href)));
      xhr.send(data);
    }

    function send() {
      const postUrl = withoutHash(form.action);
      const data = new FormData(form); // before setBusy: disabled inputs are left out
      start();

      const xhr = new XMLHttpRequest();
      xhr.open("POST", postUrl);
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable && event.total > 0) {
          showProgress(event.loaded / event.total);
        }
      });
      xhr.upload.addEventListener("load", () => {
        showProgress(1);
        setSummary(rows.length ? TEXT.checking : "");
      });
      answer(xhr, postUrl);
      xhr.send(data);
    }

    input.addEventListener("change", () => {
      removeError();
      showFiles();
    });

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!busy) {
        form.setAttribute("data-msd-submitted", "");
        if (tusAvailable && (input.files || []).length) {
          sendResumably();
        } else {
          send();
        }
      }
    });

    if (zone) {
      const hasFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
      const over = (event) => {
        if (!hasFiles(event)) {
          return;
        }
        event.preventDefault();
        event.dataTransfer.dropEffect = busy ? "none" : "copy";
        zone.classList.toggle("msd-upload__drop--active", !busy);
      };
      zone.addEventListener("dragenter", over);
      zone.addEventListener("dragover", over);
      zone.addEventListener("dragleave", (event) => {
        if (!zone.contains(event.relatedTarget)) {
          zone.classList.remove("msd-upload__drop--active");
        }
      });
      zone.addEventListener("drop", (event) => {
        if (!hasFiles(event)) {
          return;
        }
        event.preventDefault();
        zone.classList.remove("msd-upload__drop--active");
        if (busy || !event.dataTransfer.files.length) {
          return;
        }
        try {
          input.files = event.dataTransfer.files;
        } catch (error) {
          return; // very old browser: the user can still use the "choose files" button
        }
        input.dispatchEvent(new Event("change", { bubbles: true }));
      });
    }

    // The browser may have kept a selection (e.g. after a reload): list it.
    showFiles();
  }

  /* A file dropped next to the drop zone would make the browser open it and leave the page. */
  function guardAgainstStrayDrops() {
    const stray = (event) => {
      const inZone = event.target instanceof Element && event.target.closest("[data-msd-dropzone]");
      if (!inZone && event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files")) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "none";
      }
    };
    window.addEventListener("dragover", stray);
    window.addEventListener("drop", stray);
  }

  /* ------------------------------------------------------------ once / print */

  function enhanceOnce(button) {
    const form = button.form;
    if (!form || form.hasAttribute("data-msd-once-form")) {
      return;
    }
    form.setAttribute("data-msd-once-form", "");
    form.addEventListener("submit", (event) => {
      if (form.hasAttribute("data-msd-submitted")) {
        event.preventDefault();
        return;
      }
      // Mark it sent; the button stays enabled for the browser, so confirm=1 is still posted.
      form.setAttribute("data-msd-submitted", "");
      form.querySelectorAll("[data-msd-once]").forEach((once) => setButtonDisabled(once, true));
    });
  }

  function enhancePrint(button) {
    if (typeof window.print !== "function") {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }

  function enhance(root) {
    root.querySelectorAll("form[data-msd-upload]").forEach(enhanceUpload);
    root.querySelectorAll("[data-msd-once]").forEach(enhanceOnce);
    root.querySelectorAll("[data-msd-print]").forEach(enhancePrint);
  }

  if (document.querySelector("form[data-msd-upload]")) {
    guardAgainstStrayDrops();
  }
  enhance(document);

  // Back to a page whose form was already sent (back/forward cache): load it fresh, so the
  // server decides what to show (the check page of a confirmed batch redirects onwards).
  window.addEventListener("pageshow", (event) => {
    if (event.persisted && document.querySelector("[data-msd-submitted]")) {
      window.location.reload();
    }
  });
})();
