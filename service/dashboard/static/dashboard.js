// mesascope dashboard: confirm dialogs for destructive forms, live status of queued/running jobs.
(function () {
  "use strict";
  var POLL_MS = 2000;
  var LIVE = ["queued", "running"];

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      return;
    }
    if ((form.getAttribute("method") || "get").toLowerCase() === "get") {
      // Leave unset filters out of the URL, so shared links stay short.
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, name) {
        if (value !== "") {
          params.append(name, value);
        }
      });
      event.preventDefault();
      var query = params.toString();
      window.location.assign(form.getAttribute("action") + (query ? "?" + query : ""));
    }
  });

  function liveElements() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live][data-id]"));
  }

  function update(element, item) {
    var status = element.querySelector("[data-status]");
    if (status) {
      var cancelling = item.cancel_requested && item.status === "running";
      status.textContent = item.status + (cancelling ? " (cancelling)" : "");
      status.className = "status status-" + item.status;
    }
    var progress = element.querySelector("[data-progress]");
    if (progress) {
      progress.value = item.progress;
      progress.textContent = Math.round(item.progress * 100) + "%";
    }
  }

  function poll() {
    var elements = liveElements();
    if (!elements.length) {
      return;
    }
    var ids = elements.map(function (e) { return e.getAttribute("data-id"); });
    fetch("/live?ids=" + encodeURIComponent(ids.join(",")), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (body) {
        if (!body) {
          return;
        }
        var finished = false;
        body.items.forEach(function (item) {
          elements.forEach(function (element) {
            if (element.getAttribute("data-id") === item.id) {
              update(element, item);
            }
          });
          if (LIVE.indexOf(item.status) < 0) {
            finished = true;
          }
        });
        if (finished) {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, POLL_MS);
      })
      .catch(function () {
        window.setTimeout(poll, POLL_MS * 2);
      });
  }

  window.setTimeout(poll, POLL_MS);
})();
