// paydesk-live.js: keeps a page current when live-update events may have
// been missed. The layout connects signed-in pages to GET /live (htmx SSE
// extension); rows and panels follow "sse:change-<id>" events. When the
// stream reconnects (events sent meanwhile are lost) or the server sends
// "resync" (it dropped events for this page), every element that follows
// changes re-fetches itself, as if its object had changed: the page is
// current again without a reload, keeping scroll position, filters and
// half-filled forms outside those elements.
(function () {
  'use strict';
  var opens = 0;

  function refreshAll() {
    var els = document.querySelectorAll('[hx-trigger*="sse:change-"]');
    for (var i = 0; i < els.length; i++) {
      var specs = els[i].getAttribute('hx-trigger').split(',');
      for (var j = 0; j < specs.length; j++) {
        var name = specs[j].trim().split(/\s+/)[0];
        if (name.indexOf('sse:change-') === 0) {
          htmx.trigger(els[i], name);
          break;
        }
      }
    }
  }

  document.addEventListener('htmx:sseOpen', function () {
    opens++;
    if (opens > 1) {
      refreshAll();
    }
  });
  document.addEventListener('htmx:sseMessage', function (e) {
    if (e.detail && e.detail.type === 'resync') {
      refreshAll();
    }
  });
})();
