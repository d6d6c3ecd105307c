// The Zendesk mock's app host: speaks the ZAF SDK 2.0 postMessage protocol with every app iframe of the
// agent page's ticket sidebar, as Zendesk's agent workspace does, so an app runs here as it runs there.
// Messages are JSON strings both ways. Secure settings never pass through here: the app's requests are
// relayed to the mock's proxy, which puts the settings in server side.
(function () {
  "use strict";

  var sidebar = document.currentScript.closest("[data-ticket-id]");
  var ticketId = Number(sidebar.dataset.ticketId);
  var dataUrl = "/agent/tickets/" + ticketId + "/apps/data";
  var POLL_MS = 3000;

  function frames() {
    return Array.prototype.slice.call(document.querySelectorAll("iframe.zaf-app"));
  }

  // By the window that posted, never by the guid in the message alone: a guid can be copied.
  function frameOf(source) {
    return frames().find(function (frame) { return frame.contentWindow === source; }) || null;
  }

  function post(frame, payload) {
    frame.contentWindow.postMessage(JSON.stringify(payload), frame.dataset.origin);
  }

  function ticketData() {
    return fetch(dataUrl, { cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error("ticket " + ticketId + ": HTTP " + r.status); }
      return r.json();
    });
  }

  function register(frame) {
    frame.dataset.registered = "true";
    post(frame, {
      key: "zaf.app.registered",
      message: {
        metadata: JSON.parse(frame.dataset.metadata),
        context: {
          product: "support",
          location: "ticket_sidebar",
          ticketId: ticketId,
          instanceGuid: frame.dataset.appGuid
        }
      }
    });
  }

  function get(params) {
    var paths = Array.isArray(params) ? params : [params];
    return ticketData().then(function (data) {
      var result = { errors: {} };
      paths.forEach(function (path) {
        if (Object.prototype.hasOwnProperty.call(data.paths, path)) {
          result[path] = data.paths[path];
        } else {
          result.errors[path] = { message: "\"" + path + "\" Not Found", name: "NotFoundError" };
        }
      });
      return result;
    });
  }

  function cssSize(value) {
    return typeof value === "number" ? value + "px" : String(value);
  }

  function invoke(frame, params) {
    var result = { errors: {} };
    Object.keys(params || {}).forEach(function (name) {
      var args = params[name];
      var first = Array.isArray(args) ? args[0] : args;
      if (name === "resize" && first && typeof first === "object") {
        if (first.height !== undefined) { frame.style.height = cssSize(first.height); }
        if (first.width !== undefined) { frame.style.width = cssSize(first.width); }
        result[name] = null;
      } else {
        result.errors[name] = { message: "\"" + name + "\" is not an action of this location", name: "NotFoundError" };
      }
    });
    return result;
  }

  function answer(frame, message) {
    var reply;
    if (message.request === "get") {
      reply = get(message.params);
    } else if (message.request === "invoke") {
      reply = Promise.resolve(invoke(frame, message.params));
    } else {
      reply = Promise.reject(new Error("\"" + message.request + "\" is not supported by the mock"));
    }
    reply.then(
      function (result) { post(frame, { id: message.id, result: result }); },
      function (error) { post(frame, { id: message.id, error: { message: String(error.message || error) } }); }
    );
  }

  function relay(frame, key, request) {
    fetch("/agent/apps/" + frame.dataset.installationId + "/proxy", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request || {})
    })
      .then(function (r) { return r.json(); })
      .catch(function () { return { status: 0, status_text: "error", response_text: "" }; })
      .then(function (outcome) {
        var xhr = { status: outcome.status, responseText: outcome.response_text };
        if (outcome.status >= 200 && outcome.status < 300) {
          var body = outcome.response_text;
          if (String((request && request.dataType) || "").toLowerCase() === "json") {
            try {
              body = JSON.parse(body);
            } catch (e) {
              post(frame, { key: "zaf." + key + ".fail", message: { responseArgs: [xhr, "parsererror", String(e)] } });
              return;
            }
          }
          post(frame, { key: "zaf." + key + ".done", message: { responseArgs: [body, "success", xhr] } });
        } else {
          post(frame, { key: "zaf." + key + ".fail", message: { responseArgs: [xhr, "error", outcome.status_text] } });
        }
      });
  }

  window.addEventListener("message", function (event) {
    var frame = frameOf(event.source);
    if (!frame || event.origin !== frame.dataset.origin || typeof event.data !== "string") { return; }
    var message;
    try { message = JSON.parse(event.data); } catch (e) { return; }
    if (!message || message.appGuid !== frame.dataset.appGuid) { return; }
    if (message.key === "iframe.handshake") {
      register(frame);
    } else if (typeof message.key === "string" && message.key.indexOf("request:") === 0) {
      relay(frame, message.key, message.message);
    } else if (message.request !== undefined && message.id !== undefined) {
      answer(frame, message);
    }
  });

  // Zendesk tells its apps of a ticket changed elsewhere; the mock finds out by asking every few seconds,
  // from the ticket as the page showed it.
  var lastUpdate = sidebar.dataset.updatedAt;
  window.setInterval(function () {
    ticketData().then(function (data) {
      if (data.updated_at !== lastUpdate) {
        frames().filter(function (f) { return f.dataset.registered === "true"; }).forEach(function (frame) {
          post(frame, { key: "zaf.ticket.updated", message: data.paths.ticket });
        });
      }
      lastUpdate = data.updated_at;
    }, function () { /* a failed poll is retried at the next tick */ });
  }, POLL_MS);
}());
