/*
 * The robot's panel in Zendesk's ticket sidebar: our own small client of the ZAF SDK 2.0 protocol.
 *
 * Zendesk loads this page in an iframe with ?origin=…&app_guid=…; every message is a JSON string posted
 * to the parent window. The page never holds a secret: its calls to rpa serve go through Zendesk's secure
 * settings proxy ("request:<k>"), which puts the app's secure token in the Authorization header server side.
 */
"use strict";
(function () {
  const query = new URLSearchParams(window.location.search);
  const hostOrigin = query.get("origin");
  const appGuid = query.get("app_guid");
  // Every few seconds while the flow or a step moves; an idle ticket is still looked at now and then.
  const REFRESH_MOVING_MS = 4000;
  const REFRESH_IDLE_MS = 30000;

  let nextId = 0;
  let nextRequest = 0;
  const replies = new Map();
  const proxied = new Map();
  const state = { ticketId: null, serveUrl: "", agent: null, requester: null, shown: "", timer: null, height: 0 };

  // -- the protocol ------------------------------------------------------------------------------
  function post(message) {
    message.appGuid = appGuid;
    message.instanceGuid = appGuid;
    window.parent.postMessage(JSON.stringify(message), hostOrigin);
  }

  function ask(request, params) {
    nextId += 1;
    const id = nextId;
    return new Promise(function (resolve, reject) {
      replies.set(id, { resolve: resolve, reject: reject });
      post({ id: id, request: request, params: params });
    });
  }

  function get(paths) {
    return ask("get", paths);
  }

  function invoke(name, args) {
    const params = {};
    params[name] = args;
    return ask("invoke", params);
  }

  // A call to rpa serve through Zendesk: resolves with the parsed JSON, rejects with {status, detail}.
  function api(path, method, body) {
    nextRequest += 1;
    const key = "request:" + nextRequest;
    const message = {
      url: state.serveUrl + path,
      type: method,
      headers: { Authorization: "Bearer {{setting.token}}" },
      secure: true,
      contentType: "application/json",
      dataType: "json",
    };
    if (body !== undefined) {
      message.data = JSON.stringify(body);
    }
    return new Promise(function (resolve, reject) {
      proxied.set(key, { resolve: resolve, reject: reject });
      post({ key: key, message: message });
    });
  }

  function parsed(body) {
    if (typeof body !== "string") {
      return body;
    }
    try {
      return JSON.parse(body);
    } catch (e) {
      return body;
    }
  }

  function failure(xhr) {
    const answer = parsed((xhr && xhr.responseText) || "") || {};
    let detail = answer.detail !== undefined ? answer.detail : answer.error;
    if (detail && typeof detail === "object") {
      detail = detail.error || JSON.stringify(detail);
    }
    return { status: xhr ? xhr.status : 0, detail: detail || "sin respuesta de rpa serve" };
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || event.origin !== hostOrigin) {
      return;
    }
    const data = parsed(event.data);
    if (!data || typeof data !== "object") {
      return;
    }
    if (data.id !== undefined && replies.has(data.id)) {
      const reply = replies.get(data.id);
      replies.delete(data.id);
      if (data.error) {
        reply.reject(new Error(data.error.message || "error de Zendesk"));
      } else {
        reply.resolve(data.result || {});
      }
      return;
    }
    if (typeof data.key !== "string") {
      return;
    }
    if (data.key === "zaf.app.registered") {
      registered(data.message || {});
      return;
    }
    const done = /^zaf\.(request:.+)\.(done|fail)$/.exec(data.key);
    if (done && proxied.has(done[1])) {
      const call = proxied.get(done[1]);
      proxied.delete(done[1]);
      const args = (data.message && data.message.responseArgs) || [];
      if (done[2] === "done") {
        call.resolve(parsed(args[0]));
      } else {
        call.reject(failure(args[0]));
      }
      return;
    }
    if (data.key === "zaf.ticket.updated") {
      refresh();
    }
  });

  function registered(message) {
    const metadata = message.metadata || {};
    const context = message.context || {};
    state.serveUrl = String((metadata.settings || {}).serve_url || "").replace(/\/+$/, "");
    state.ticketId = context.ticketId || null;
    get(["ticket.id", "ticket.requester", "currentUser"])
      .then(function (result) {
        state.ticketId = result["ticket.id"] || state.ticketId;
        state.requester = result["ticket.requester"] || null;
        const user = result.currentUser || {};
        state.agent = { id: user.id === undefined ? null : user.id, name: user.name || "agente" };
        refresh();
      })
      .catch(function (error) {
        status("Zendesk no dio los datos del ticket: " + error.message);
      });
  }

  // -- drawing -----------------------------------------------------------------------------------
  function el(tag, attributes) {
    const node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      const value = attributes[name];
      if (name === "text") {
        node.textContent = value;
      } else if (name.slice(0, 2) === "on") {
        node.addEventListener(name.slice(2), value);
      } else if (value !== null && value !== undefined && value !== false) {
        node.setAttribute(name, value === true ? "" : value);
      }
    });
    for (let i = 2; i < arguments.length; i += 1) {
      const child = arguments[i];
      if (child !== null && child !== undefined) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    }
    return node;
  }

  function status(text) {
    document.getElementById("status").textContent = text;
  }

  function say(text, tone) {
    const message = document.getElementById("message");
    message.textContent = text;
    message.className = tone ? "tone-" + tone : "";
  }

  function resize() {
    const height = Math.min(document.documentElement.scrollHeight + 8, 1200);
    if (height !== state.height) {
      state.height = height;
      invoke("resize", [{ height: height + "px" }]).catch(function () {});
    }
  }

  function field(id, placeholder) {
    return el("input", { id: id, placeholder: placeholder, "data-keep": "1" });
  }

  function valueOf(id) {
    const input = document.getElementById(id);
    return input ? input.value.trim() : "";
  }

  // Irreversible actions are asked "¿Confirmar?" inline: a sandboxed iframe may not open dialogs.
  function confirmed(button, run) {
    const box = el(
      "span",
      { class: "confirm" },
      "¿Confirmar? ",
      el("button", { class: "danger", onclick: function () { box.remove(); run(); } }, "Sí"),
      el("button", { onclick: function () { box.remove(); button.disabled = false; } }, "No")
    );
    button.disabled = true;
    button.after(box);
  }

  function act(path, body, doneText) {
    body.agent = state.agent;
    say("Enviando…");
    return api("/panel/api/tickets/" + state.ticketId + path, "POST", body)
      .then(function () {
        say(doneText, "ok");
        refresh();
      })
      .catch(function (error) {
        say("No se pudo (" + error.status + "): " + error.detail, "bad");
        refresh();
      });
  }

  function handOffForm(waiting) {
    return el(
      "div",
      { class: "box question" },
      el("strong", { text: "El robot pregunta: " }),
      waiting.question || waiting.words || "",
      waiting.note ? el("div", {}, el("a", { href: waiting.note, target: "_blank", rel: "noopener", text: "Ver la nota del robot" })) : null,
      field("answer-value", "Valor que el robot necesita"),
      el("button", { onclick: function () {
        const value = valueOf("answer-value");
        if (!value) { say("Escriba el valor.", "warn"); return; }
        act("/answer", { kind: "value", value: value }, "Valor enviado al robot.");
      } }, "Enviar valor"),
      el("button", { onclick: function () { act("/answer", { kind: "continue" }, "El robot continúa."); } }, "Continuar"),
      field("answer-macro", "Macro para terminar (p. ej. despedida)"),
      el("button", { class: "danger", onclick: function (event) {
        const macro = valueOf("answer-macro");
        if (!macro) { say("Escriba el nombre de la macro.", "warn"); return; }
        confirmed(event.target, function () { act("/answer", { kind: "end", value: macro }, "El flujo termina con la macro."); });
      } }, "Terminar")
    );
  }

  function reviewForm() {
    return el(
      "div",
      { class: "box question" },
      el("strong", { text: "Revisión de CI y selfie" }),
      field("review-labels", "Opcional: anverso=1 reverso=2 selfie=3"),
      el("button", { onclick: function () {
        act("/approve", { labels: valueOf("review-labels") || null }, "Fotos aprobadas.");
      } }, "Aprobar"),
      field("review-reason", "Motivo del rechazo"),
      el("button", { class: "danger", onclick: function () {
        const reason = valueOf("review-reason");
        if (!reason) { say("Escriba el motivo.", "warn"); return; }
        act("/reject", { reason: reason }, "Fotos rechazadas.");
      } }, "Rechazar")
    );
  }

  function stepForm(step) {
    const inputs = step.arguments.map(function (argument) {
      const id = "step-" + step.name + "-" + argument.name;
      if (argument.kind === "bool") {
        return el("label", {}, el("input", { id: id, type: "checkbox", style: "width:auto" }), " " + argument.label);
      }
      return field(id, argument.label);
    });
    const run = function (button) {
      const args = {};
      step.arguments.forEach(function (argument) {
        const id = "step-" + step.name + "-" + argument.name;
        args[argument.name] = argument.kind === "bool" ? document.getElementById(id).checked : valueOf(id) || null;
      });
      const go = function () {
        act("/steps/" + step.name, { arguments: args, confirm: step.irreversible }, "«" + step.title + "» en curso; el resultado llega como nota interna.");
      };
      if (step.irreversible) { confirmed(button, go); } else { go(); }
    };
    const button = el("button", {
      class: step.irreversible ? "danger" : null,
      disabled: !step.allowed,
      title: step.allowed ? null : "El flujo del ticket está en curso: hace este paso él mismo.",
      onclick: function (event) { run(event.target); },
    }, "Ejecutar");
    return el("details", {}, el("summary", { text: step.title + (step.writes ? " ✎" : "") }), ...inputs, button);
  }

  function render(view) {
    const root = document.getElementById("view");
    const kept = {};
    root.querySelectorAll("input[data-keep]").forEach(function (input) { kept[input.id] = input.value; });
    const open = {};
    root.querySelectorAll("details[open] summary").forEach(function (summary) { open[summary.textContent] = true; });
    root.textContent = "";
    const ticket = view.ticket;
    const requester = state.requester && state.requester.name ? " · " + state.requester.name : "";
    root.appendChild(el("h2", { text: "Ticket #" + ticket.id + requester }));
    if (ticket.holder_ci) {
      root.appendChild(el("div", { class: "muted", text: "CI del titular: " + ticket.holder_ci + (ticket.line ? " · línea " + ticket.line : "") }));
    }
    if (view.refused) {
      root.appendChild(el("div", { class: "box refused", text: "El robot no atiende este ticket: " + view.refused }));
    }
    const flow = view.flow;
    if (!flow) {
      root.appendChild(el("p", { text: "Este ticket no tiene flujo del robot." }));
    } else {
      root.appendChild(el("h3", {}, "Flujo: ", el("span", { class: "tone-" + flow.state.tone, text: flow.state.label })));
      if (flow.activity) { root.appendChild(el("div", { text: "Actividad: " + flow.activity })); }
      if (flow.waiting) {
        root.appendChild(el("div", { text: "Espera a " + flow.waiting.who + (flow.waiting.words ? " (" + flow.waiting.words + ")" : "") }));
      }
      if (flow.outcome) { root.appendChild(el("div", { text: "Resultado: " + flow.outcome.label })); }
      if (flow.error) { root.appendChild(el("div", { class: "tone-bad", text: flow.error })); }
    }
    const actions = view.actions || [];
    if (actions.indexOf("value") >= 0) { root.appendChild(handOffForm(flow.waiting || {})); }
    if (actions.indexOf("approve") >= 0) { root.appendChild(reviewForm()); }
    if (actions.indexOf("hold") >= 0) {
      root.appendChild(el("button", { onclick: function () { act("/hold", {}, "Tomó el ticket: el robot espera."); } }, "Detener el robot en este ticket"));
    }
    if (actions.indexOf("give_back") >= 0) {
      root.appendChild(el("div", { class: "box question" },
        el("strong", { text: "El ticket está en manos de un agente: el robot no escribe nada." }),
        el("button", { onclick: function () { act("/give-back", {}, "El robot continúa."); } }, "Devolver al robot"),
        field("held-macro", "Macro para terminar (p. ej. despedida)"),
        el("button", { class: "danger", onclick: function (event) {
          const macro = valueOf("held-macro");
          if (!macro) { say("Escriba el nombre de la macro.", "warn"); return; }
          confirmed(event.target, function () { act("/end", { macro: macro }, "El flujo termina con la macro."); });
        } }, "Terminar el flujo")));
    }
    if (actions.indexOf("start") >= 0) {
      root.appendChild(el("button", { onclick: function () { act("/start", {}, "Flujo iniciado."); } }, "Iniciar el flujo"));
    }
    if (actions.indexOf("retry") >= 0) {
      root.appendChild(el("button", { onclick: function () { act("/retry", {}, "Flujo reintentado."); } }, "Reintentar el flujo"));
    }
    if (flow && flow.path.length) {
      root.appendChild(el("h3", { text: "Camino" }));
      root.appendChild(el("ol", { class: "path" }, ...flow.path.map(function (activity, index) {
        return el("li", { class: index === flow.path.length - 1 ? "current" : null, text: activity });
      })));
    }
    if (flow && flow.last_steps.length) {
      root.appendChild(el("h3", { text: "Últimos pasos" }));
      root.appendChild(el("table", {}, ...flow.last_steps.map(function (step) {
        return el("tr", {},
          el("td", { text: step.title }),
          el("td", { class: "muted", text: step.seconds === null ? "" : step.seconds + " s" }),
          el("td", { class: "tone-" + step.outcome.tone, title: step.error, text: step.outcome.label }));
      })));
    }
    if (view.evidence.length) {
      root.appendChild(el("h3", { text: "Evidencias" }));
      root.appendChild(el("div", { class: "thumbs" }, ...view.evidence.filter(function (card) { return card.thumb; }).map(function (card) {
        const image = el("img", { src: card.thumb, alt: card.description, title: card.title + ": " + card.description });
        return card.note ? el("a", { href: card.note, target: "_blank", rel: "noopener" }, image) : image;
      })));
    }
    if (view.report) {
      root.appendChild(el("p", {}, el("a", { id: "report-link", href: state.serveUrl + view.report, target: "_blank", rel: "noopener", text: "Informe completo del flujo" })));
    }
    if (view.running_steps.length || view.finished_steps.length) {
      root.appendChild(el("h3", { text: "Pasos pedidos desde el panel" }));
      view.running_steps.forEach(function (run) {
        root.appendChild(el("div", { class: "tone-info", text: "En curso: " + run.title + " (" + run.agent + ")" }));
      });
      view.finished_steps.forEach(function (run) {
        root.appendChild(el("div", { class: run.error ? "tone-bad" : "", text: run.title + ": " + (run.error || run.summary || "hecho") }));
      });
    }
    if (view.steps.length) {
      root.appendChild(el("h3", { text: "Pasos del robot" }));
      view.steps.forEach(function (step) { root.appendChild(stepForm(step)); });
    }
    Object.keys(kept).forEach(function (id) {
      const input = document.getElementById(id);
      if (input) { input.value = kept[id]; }
    });
    root.querySelectorAll("details summary").forEach(function (summary) {
      if (open[summary.textContent]) { summary.parentNode.open = true; }
    });
    root.hidden = false;
    status("");
  }

  function refresh() {
    if (!state.ticketId || !state.serveUrl) {
      return;
    }
    clearTimeout(state.timer);
    api("/panel/api/tickets/" + state.ticketId, "GET")
      .then(function (view) {
        // The report link is signed anew each time: it alone is no reason to redraw under the agent's typing.
        const shown = JSON.stringify(Object.assign({}, view, { report: null }));
        if (shown !== state.shown) {
          state.shown = shown;
          state.view = view;
          render(view);
        }
        const link = document.getElementById("report-link");
        if (link && view.report) {
          link.href = state.serveUrl + view.report;
        }
        resize();
        state.timer = setTimeout(refresh, view.moving ? REFRESH_MOVING_MS : REFRESH_IDLE_MS);
      })
      .catch(function (error) {
        status("rpa serve no responde (" + error.status + "): " + error.detail);
        resize();
        state.timer = setTimeout(refresh, REFRESH_IDLE_MS);
      });
  }

  if (!hostOrigin || !appGuid) {
    status("Esta página es la app del robot en Zendesk: ábrala desde un ticket.");
    return;
  }
  post({ key: "iframe.handshake", message: { version: "2.0" } });
})();
