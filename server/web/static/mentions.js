// Mention autocompletion for text areas marked `data-mentions` (the composer and the comment boxes).
//
// Typing `@` and at least one letter asks `data-mentions` (GET /api/v1/mentions?q=…) whom it may
// mean and lists the answers under the field, following the ARIA combobox pattern: the field gets
// role=combobox, aria-expanded, aria-controls and aria-activedescendant; the list is a listbox of
// options. Up and down arrows move through the list, Enter or Tab inserts the chosen handle, Escape
// closes the list; a click works too. Without JavaScript the field stays a plain text area and
// `@name` typed by hand works the same. No framework, no build step.
(function () {
  "use strict";

  var TOKEN = /(^|[\s(\[{>"'])@([^\s@]{1,64}(?:@[^\s@]{0,100})?)$/;
  var DELAY_MS = 150;
  var counter = 0;

  function attach(field) {
    if (field.dataset.mentionsReady) return;
    field.dataset.mentionsReady = "1";
    counter += 1;
    var base = (field.id || "mention-field-" + counter) + "-mentions";
    var list = document.createElement("ul");
    list.id = base;
    list.className = "mention-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", field.dataset.mentionsLabel || "People");
    list.hidden = true;
    var status = document.createElement("p");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    field.insertAdjacentElement("afterend", status);
    field.insertAdjacentElement("afterend", list);
    field.setAttribute("role", "combobox");
    field.setAttribute("aria-autocomplete", "list");
    field.setAttribute("aria-expanded", "false");
    field.setAttribute("aria-controls", list.id);

    var state = { items: [], active: -1, start: -1, timer: null, request: null, typed: "" };

    function close() {
      list.hidden = true;
      list.textContent = "";
      state.items = [];
      state.active = -1;
      field.setAttribute("aria-expanded", "false");
      field.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      var options = list.querySelectorAll("[role=option]");
      state.active = index;
      for (var i = 0; i < options.length; i += 1) {
        options[i].setAttribute("aria-selected", i === index ? "true" : "false");
      }
      if (index >= 0 && options[index]) {
        field.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        field.removeAttribute("aria-activedescendant");
      }
    }

    function choose(index) {
      var person = state.items[index];
      if (!person || state.start < 0) return;
      var caret = field.selectionStart;
      var before = field.value.slice(0, state.start);
      var after = field.value.slice(caret);
      var inserted = person.handle + " ";
      field.value = before + inserted + after;
      var position = before.length + inserted.length;
      field.setSelectionRange(position, position);
      close();
      field.focus();
    }

    function option(person, index) {
      var item = document.createElement("li");
      item.id = base + "-" + index;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      var name = document.createElement("span");
      name.className = "mention-name";
      name.textContent = person.display_name;
      var handle = document.createElement("span");
      handle.className = "handle";
      handle.textContent = " " + person.handle;
      item.appendChild(name);
      item.appendChild(handle);
      if (!person.local) {
        var badge = document.createElement("span");
        badge.className = "badge remote";
        badge.textContent = person.domain;
        item.appendChild(document.createTextNode(" "));
        item.appendChild(badge);
      }
      item.addEventListener("mousedown", function (event) {
        event.preventDefault(); // keep the focus in the field
        choose(index);
      });
      return item;
    }

    function show(items) {
      list.textContent = "";
      state.items = items;
      state.active = -1;
      if (!items.length) {
        close();
        status.textContent = field.dataset.mentionsNone || "";
        return;
      }
      items.forEach(function (person, index) {
        list.appendChild(option(person, index));
      });
      list.hidden = false;
      field.setAttribute("aria-expanded", "true");
      highlight(0);
      status.textContent = (field.dataset.mentionsFound || "{count}").replace("{count}", String(items.length));
    }

    function ask(typed) {
      if (state.request) state.request.abort();
      var request = new AbortController();
      state.request = request;
      var url = field.dataset.mentions + "?q=" + encodeURIComponent(typed);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, signal: request.signal })
        .then(function (response) {
          return response.ok ? response.json() : { items: [] };
        })
        .then(function (body) {
          if (state.typed === typed) show(body.items || []);
        })
        .catch(function () {
          /* aborted or offline: the field keeps working as plain text */
        });
    }

    function typedBeforeCaret() {
      if (field.selectionStart !== field.selectionEnd) return null;
      var text = field.value.slice(0, field.selectionStart);
      var found = TOKEN.exec(text);
      if (!found) return null;
      return { typed: found[2], start: text.length - found[2].length - 1 };
    }

    field.addEventListener("input", function () {
      var found = typedBeforeCaret();
      clearTimeout(state.timer);
      if (!found) {
        state.typed = "";
        close();
        return;
      }
      state.start = found.start;
      state.typed = found.typed;
      state.timer = setTimeout(function () {
        ask(found.typed);
      }, DELAY_MS);
    });

    field.addEventListener("keydown", function (event) {
      if (list.hidden || !state.items.length) return;
      var count = state.items.length;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        highlight((state.active + 1) % count);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        highlight((state.active - 1 + count) % count);
      } else if ((event.key === "Enter" || event.key === "Tab") && state.active >= 0) {
        event.preventDefault();
        choose(state.active);
      } else if (event.key === "Escape") {
        event.preventDefault();
        state.typed = "";
        close();
      }
    });

    field.addEventListener("blur", function () {
      state.typed = "";
      close();
    });
  }

  function scan(root) {
    var fields = (root || document).querySelectorAll("textarea[data-mentions]");
    for (var i = 0; i < fields.length; i += 1) attach(fields[i]);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      scan(document);
    });
  } else {
    scan(document);
  }
  document.addEventListener("htmx:load", function (event) {
    scan(event.target);
  });
})();
