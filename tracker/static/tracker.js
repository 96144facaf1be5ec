/* tracker landing-site snippet (served as /t.js). No dependencies, no third-party cookies.
 *
 *   <script async src="https://go.example.com/t.js"></script>
 *
 * On load it sends a landing visit (tid and utm_* from the URL, the referrer) to POST /collect on
 * the server the script came from (or data-endpoint="https://.../collect"). A site visitor id is kept
 * first-party on the landing site (localStorage "trk_svid", else a cookie of that name).
 * Nothing is stored in the browser when the service runs cookieless (the server sets COOKIELESS
 * below when it serves this file) or the browser sends Do Not Track or Global Privacy Control: the
 * visitor id then lives for one page view only. With DNT/GPC the click id is not sent either, and
 * identify() and event() send nothing (they resolve false). docs/guides/site-owner.md#privacy.
 * Public API: tracker.identify(key) and tracker.event(type); both return a Promise of true/false.
 * Calls made before the script loaded can be queued in window.tracker.q as [method, argument].
 */
(function (w, d) {
  "use strict";
  var KEY = "trk_svid";
  var COOKIELESS = false;
  var nav = w.navigator;
  var OPTED_OUT = nav.doNotTrack === "1" || w.doNotTrack === "1" || nav.globalPrivacyControl === true;
  var UTMS = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];
  var script = d.currentScript;
  var endpoint = script && script.getAttribute("data-endpoint");
  if (!endpoint && script && script.src) {
    endpoint = new URL("/collect", script.src).href;
  }
  if (!endpoint) { return; }

  function newId() {
    var bytes = new Uint8Array(16);
    w.crypto.getRandomValues(bytes);
    var hex = "";
    for (var i = 0; i < bytes.length; i++) { hex += (bytes[i] + 256).toString(16).slice(1); }
    return hex;
  }

  function readCookie() {
    var m = d.cookie.match(/(?:^|;\s*)trk_svid=([A-Za-z0-9_-]{16,64})/);
    return m ? m[1] : null;
  }

  function visitorId() {
    if (COOKIELESS || OPTED_OUT) { return newId(); }  // this page view only: nothing is stored
    var id = null;
    try { id = w.localStorage.getItem(KEY); } catch (e) { id = null; }
    if (!id || !/^[A-Za-z0-9_-]{16,64}$/.test(id)) { id = readCookie() || newId(); }
    try { w.localStorage.setItem(KEY, id); } catch (e) { /* storage blocked: the cookie keeps it */ }
    d.cookie = KEY + "=" + id + "; Max-Age=" + 395 * 86400 + "; Path=/; SameSite=Lax" +
      (w.location.protocol === "https:" ? "; Secure" : "");
    return id;
  }

  var svid = visitorId();

  function clip(value, n) {
    value = (value || "").trim();
    return value ? value.slice(0, n) : null;
  }

  function send(record) {
    record.site_visitor_id = svid;
    var body = JSON.stringify(record);
    // text/plain keeps this a "simple" CORS request: no preflight round trip before the POST.
    if (w.fetch) {
      return w.fetch(endpoint, {
        method: "POST", body: body, keepalive: true, mode: "cors", credentials: "omit",
        headers: { "Content-Type": "text/plain;charset=UTF-8" }
      }).then(function (r) { return r.ok; }, function () { return false; });
    }
    var sent = !!(w.navigator.sendBeacon && w.navigator.sendBeacon(endpoint, body));
    return Promise.resolve(sent);
  }

  var params = new URLSearchParams(w.location.search);
  var visit = { type: "visit", url: (w.location.origin + w.location.pathname).slice(0, 2000) };
  var tid = params.get("tid");
  if (tid && !OPTED_OUT && /^[A-Za-z0-9_-]{20}$/.test(tid)) { visit.tid = tid; }
  for (var i = 0; i < UTMS.length; i++) {
    var v = clip(params.get(UTMS[i]), 100);
    if (v) { visit[UTMS[i]] = v; }
  }
  if (d.referrer && /^https?:/.test(d.referrer)) {
    try { var ref = new URL(d.referrer); visit.referrer = (ref.origin + ref.pathname).slice(0, 2000); }
    catch (e) { /* an unparsable referrer is left out */ }
  }

  var queued = w.tracker && w.tracker.q;
  var api = {
    ready: send(visit),
    siteVisitorId: svid,
    identify: function (key) {
      key = clip(String(key == null ? "" : key), 320);
      return key && !OPTED_OUT ? send({ type: "identify", customer_key: key }) : Promise.resolve(false);
    },
    event: function (type) {
      return OPTED_OUT ? Promise.resolve(false) : send({ type: "event", event: String(type) });
    }
  };
  w.tracker = api;
  if (queued && queued.length) {
    for (var j = 0; j < queued.length; j++) {
      var call = queued[j];
      if (call && typeof api[call[0]] === "function" && call[0] !== "ready") { api[call[0]](call[1]); }
    }
  }
})(window, document);
