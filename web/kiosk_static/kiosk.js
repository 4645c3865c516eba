// The kiosk screen (docs/kiosk.md): a barcode scanner types the 10 digits and Enter, the patient
// keys them on the keypad, or (where the browser has a QR BarcodeDetector) shows the QR code to
// the camera; verify, check in with one touch, print the slip, and go back to the idle screen by
// itself. Plain script, no library, no build step.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("kiosk-config").textContent);
  var texts = config.texts;
  var lang = localStorage.getItem("hotline.kiosk.lang") || config.lang || "zh";
  var digits = "";
  var current = null; // the verified booking (kiosk API's booking JSON)
  var busy = false;
  var idleTimer = null;
  var $ = function (id) { return document.getElementById(id); };

  // The terminal's identity: the start URL's fragment #kiosk=<id>&secret=<secret>, kept locally
  // and taken off the address bar; the fragment never reaches the server.
  (function takeIdentity() {
    var hash = new URLSearchParams(location.hash.replace(/^#/, ""));
    if (hash.get("kiosk")) {
      localStorage.setItem("hotline.kiosk.id", hash.get("kiosk"));
      localStorage.setItem("hotline.kiosk.secret", hash.get("secret") || "");
      history.replaceState(null, "", location.pathname);
    }
  })();
  var kioskId = localStorage.getItem("hotline.kiosk.id") || "";
  var kioskSecret = localStorage.getItem("hotline.kiosk.secret") || "";

  function t(key) { return (texts[lang] || texts.zh)[key] || texts.zh[key] || key; }
  function pick(names) { return (names && (names[lang] || names.zh)) || ""; }

  function applyLang() {
    document.documentElement.lang = lang;
    $("hospital").textContent = pick(config.hospital);
    document.querySelectorAll("[data-t]").forEach(function (el) {
      el.textContent = t(el.getAttribute("data-t"));
    });
    document.querySelectorAll("[data-lang]").forEach(function (el) {
      el.classList.toggle("on", el.getAttribute("data-lang") === lang);
    });
    if (current) { showBooking(current); }
  }

  function armIdle() {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(reset, config.idle_s * 1000);
  }

  function reset() {
    clearTimeout(idleTimer);
    stopCamera();
    digits = "";
    current = null;
    busy = false;
    $("entry").textContent = "";
    $("result").hidden = true;
    $("slip").hidden = true;
    $("slip").innerHTML = "";
    $("idle").hidden = false;
    document.body.className = "idle";
    if (!kioskId) { show("no_kiosk", "bad"); }
  }

  function typed(key) {
    if (busy) { return; }
    if (!$("result").hidden) { reset(); } // the next patient scans while a result shows
    if (/^[0-9]$/.test(key)) {
      if (digits.length < 10) { digits += key; }
    } else if (key === "back") {
      digits = digits.slice(0, -1);
    } else if (key === "enter") {
      if (digits.length === 10) { verify(digits); }
      return;
    }
    $("entry").textContent = digits;
    armIdle();
  }

  // A scanner is a keyboard: listen on the whole document, whatever has the focus.
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.altKey || ev.metaKey) { return; }
    if (/^[0-9]$/.test(ev.key)) { typed(ev.key); }
    else if (ev.key === "Enter") { typed("enter"); }
    else if (ev.key === "Backspace") { typed("back"); }
    else { return; }
    ev.preventDefault();
  });
  document.querySelectorAll("[data-key]").forEach(function (el) {
    el.addEventListener("click", function () { typed(el.getAttribute("data-key")); });
  });
  document.querySelectorAll("[data-lang]").forEach(function (el) {
    el.addEventListener("click", function () {
      lang = el.getAttribute("data-lang");
      localStorage.setItem("hotline.kiosk.lang", lang);
      applyLang();
    });
  });
  $("checkin").addEventListener("click", function () { if (current) { checkIn(current.tcode); } });
  $("camera").addEventListener("click", function () {
    if (camera.stream) { stopCamera(); } else { startCamera(); }
  });

  // The camera: offered only where the browser has a BarcodeDetector that reads QR codes and a
  // camera API; a code it reads goes the scanner's way (the digits, then Enter).
  var camera = { stream: null, timer: null };

  function cameraAvailable() {
    var Detector = window.BarcodeDetector;
    if (typeof Detector !== "function" || typeof Detector.getSupportedFormats !== "function" ||
        !navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== "function") {
      return Promise.resolve(false);
    }
    return Promise.resolve(Detector.getSupportedFormats()).then(function (formats) {
      return (formats || []).indexOf("qr_code") >= 0;
    }, function () { return false; });
  }

  function cameraLabel(key) {
    $("camera").setAttribute("data-t", key);
    $("camera").textContent = t(key);
  }

  function stopCamera() {
    clearTimeout(camera.timer);
    if (camera.stream) { camera.stream.getTracks().forEach(function (track) { track.stop(); }); }
    camera.stream = null;
    $("viewfinder").srcObject = null;
    $("viewfinder").hidden = true;
    cameraLabel("camera");
  }

  function startCamera() {
    if (busy) { return; }
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    var video = $("viewfinder");
    armIdle(); // the camera goes off with the idle screen's reset
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (stream) {
        camera.stream = stream;
        video.srcObject = stream;
        video.hidden = false;
        cameraLabel("camera_stop");
        return video.play().then(function () { look(detector, video); });
      }).catch(function () {
        stopCamera();
        show("e.camera", "bad");
        $("verdict").setAttribute("data-code", "camera");
        armIdle();
      });
  }

  function look(detector, video) {
    if (!camera.stream) { return; }
    var again = function (ms) {
      camera.timer = setTimeout(function () { look(detector, video); }, ms);
    };
    detector.detect(video).then(function (found) {
      var code = null;
      (found || []).forEach(function (b) {
        if (!code && /^[0-9]{10}$/.test(b.rawValue || "")) { code = b.rawValue; }
      });
      if (!code) { again(200); return; }
      stopCamera();
      scanned(code);
    }, function () { again(500); });
  }

  function scanned(code) {
    digits = "";
    code.split("").forEach(typed);
    typed("enter");
  }
  $("back").addEventListener("click", reset);

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json", "x-kiosk-secret": kioskSecret },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().then(function (j) { return j; }, function () {
        return { error: { code: "other" } };
      });
    }, function () { return { error: { code: "other" } }; });
  }

  function show(key, tone) {
    $("idle").hidden = true;
    $("result").hidden = false;
    $("verdict").textContent = t(key);
    $("verdict").className = "verdict " + (tone || "");
    document.body.className = tone || "";
  }

  function showBooking(b) {
    var rows = [["dept", pick(b.department)], ["day", b.day], ["session", pick(b.session_name)],
                ["id", b.id_number], ["phone", b.phone], ["tcode", b.tcode]];
    var dl = $("booking");
    dl.innerHTML = "";
    rows.forEach(function (row) {
      var dt = document.createElement("dt");
      var dd = document.createElement("dd");
      dt.textContent = t(row[0]);
      dd.textContent = row[1];
      dl.appendChild(dt);
      dl.appendChild(dd);
    });
  }

  function refused(answer) {
    var code = (answer.error && answer.error.code) || "other";
    current = null;
    $("booking").innerHTML = "";
    $("checkin").hidden = true;
    show(texts.zh["e." + code] ? "e." + code : "e.other", "bad");
    $("verdict").setAttribute("data-code", code);
    busy = false;
    armIdle();
  }

  function verify(code) {
    busy = true;
    stopCamera(); // one code at a time, however it came
    show("working", "");
    post("/api/kiosk/verify", { tcode: code, kiosk_id: kioskId }).then(function (answer) {
      if (!answer.booking) { refused(answer); return; }
      current = answer.booking;
      showBooking(current);
      $("checkin").hidden = false;
      show("ready", "good");
      $("verdict").setAttribute("data-code", "ready");
      busy = false;
      armIdle();
    });
  }

  function checkIn(code) {
    busy = true;
    $("checkin").hidden = true;
    post("/api/kiosk/check-in", { tcode: code, kiosk_id: kioskId }).then(function (answer) {
      if (!answer.booking) { refused(answer); return; }
      current = answer.booking;
      showBooking(current);
      show("checked_in", "good");
      $("verdict").setAttribute("data-code", "checked_in");
      return printSlip(current);
    }).then(function () { busy = false; armIdle(); });
  }

  function printSlip(b) {
    return fetch("/kiosk/qr", { method: "POST", body: JSON.stringify({ tcode: b.tcode }) })
      .then(function (r) { return r.ok ? r.text() : ""; }, function () { return ""; })
      .then(function (svg) {
        var slip = $("slip");
        slip.innerHTML = "";
        var add = function (tag, cls, text) {
          var el = document.createElement(tag);
          if (cls) { el.className = cls; }
          el.textContent = text;
          slip.appendChild(el);
          return el;
        };
        add("h2", "", pick(b.hospital_name && Object.keys(b.hospital_name).length ? b.hospital_name : config.hospital));
        add("p", "title", t("slip"));
        add("p", "", t("dept") + ": " + pick(b.department));
        add("p", "", t("day") + ": " + b.day);
        add("p", "", t("session") + ": " + pick(b.session_name));
        add("p", "qlabel", t("queue"));
        add("p", "queue", b.queue_no || "");
        add("p", "", t("id") + ": " + b.id_number);
        add("p", "", t("tcode") + ": " + b.tcode);
        var qr = add("div", "qr", "");
        qr.innerHTML = svg; // our own server's SVG of the 10 digits
        add("p", "note", t("take_slip"));
        slip.hidden = false;
        window.print();
      });
  }

  applyLang();
  reset();
  cameraAvailable().then(function (yes) {
    $("camera").hidden = !yes;
    document.documentElement.setAttribute("data-camera", yes ? "yes" : "no");
  });
})();
