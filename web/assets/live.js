// The live page's updates. The server formats every figure; this only
// puts each in the element named by its data-live attribute, and reloads
// the page when the session ends, to show the server-rendered receipt.
"use strict";
(function () {
  var events = new EventSource(location.pathname.replace(/\/+$/, "") + "/events");
  function show(e) {
    var figures = JSON.parse(e.data);
    Object.keys(figures).forEach(function (name) {
      var el = document.querySelector('[data-live="' + name + '"]');
      if (el) {
        el.textContent = figures[name];
      }
    });
  }
  events.addEventListener("snapshot", show);
  events.addEventListener("update", show);
  events.addEventListener("ended", function () {
    events.close();
    location.reload();
  });
  // The browser retries a dropped stream by itself; one the server
  // refused stays closed, and the page then reloads itself now and then,
  // as it does without script.
  events.addEventListener("error", function () {
    if (events.readyState === EventSource.CLOSED) {
      setTimeout(function () { location.reload(); }, 30000);
    }
  });
})();
