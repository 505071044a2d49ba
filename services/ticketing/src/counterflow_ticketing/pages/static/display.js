/* Calling display: the call stream (/v1/branches/{id}/display/stream) with the last 6
   calls replayed first; EventSource sends Last-Event-ID when it reconnects, so the
   server replays the calls the display missed. Optional speech in the branch language. */
(function () {
  "use strict";
  var t = CF.t, el = CF.el;
  var root = document.getElementById("display");
  var branch = root.dataset.branch, KEEP = 6, calls = [], loaded = false;
  var speechBtn = document.getElementById("speech");
  var speak = window.localStorage && localStorage.getItem("cf-display-speech") === "1" && "speechSynthesis" in window;

  function setSpeech(on) {
    speak = on && "speechSynthesis" in window;
    speechBtn.setAttribute("aria-pressed", speak ? "true" : "false");
    try { localStorage.setItem("cf-display-speech", speak ? "1" : "0"); } catch (e) { /* private mode */ }
  }
  speechBtn.addEventListener("click", function () { setSpeech(!speak); });
  setSpeech(speak);
  document.getElementById("fullscreen").addEventListener("click", function () {
    if (document.fullscreenElement) document.exitFullscreen(); else document.documentElement.requestFullscreen().catch(function () {});
  });

  function announce(call) {
    if (!speak) return;
    var u = new SpeechSynthesisUtterance(root.dataset.say.replace("{number}", call.number.split("").join(" ")).replace("{counter}", call.counter_name));
    u.lang = root.dataset.speechLang;
    window.speechSynthesis.speak(u);
  }

  function render(fresh) {
    var now = calls[0];
    var num = document.getElementById("now-number");
    num.textContent = now ? now.number : "—";
    document.getElementById("now-counter").textContent = now ? now.counter_name : "";
    if (fresh) { num.classList.remove("flash"); void num.offsetWidth; num.classList.add("flash"); }
    var list = document.getElementById("last");
    list.replaceChildren.apply(list, calls.slice(1).map(function (c) { return el("li", { "data-number": c.number }, [el("span", { text: c.number }), el("span", { "class": "c", text: c.counter_name })]); }));
  }

  var live = document.getElementById("live");
  var source = CF.stream("/v1/branches/" + encodeURIComponent(branch) + "/display/stream?backlog=" + KEEP, {
    call: function (call, ev) {
      calls = [call].concat(calls.filter(function (c) { return c.ticket_id !== call.ticket_id; })).slice(0, KEEP);
      render(loaded);
      if (loaded) announce(call);
    }
  }, function (on) {
    live.className = "live " + (on ? "on" : "off");
    live.textContent = on ? t("Connected") : t("Reconnecting");
    if (on) setTimeout(function () { loaded = true; }, 300);
  });
  window.cfDisplaySource = source;
})();
