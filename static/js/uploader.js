/* Direct uploads: files go from the browser straight to storage, never through Aqueduct.
 *
 * Enhances every [data-upload] field: when a file is chosen, the studio's upload API
 * (/studio/uploads) answers with a presigned POST, or, for large video, a multipart
 * upload whose parts are sent with presigned PUTs (three at a time, each retried on
 * failure; each link takes exactly its slice of the file, and the upload id stays on
 * the server). The server then checks what arrived; once it is ready, the asset's id goes
 * into the hidden field and the form saves it with everything else. Cancel aborts the
 * upload and storage discards what arrived. Without JavaScript the file input posts the
 * file with the form (local storage only).
 */
(function () {
  "use strict";

  var PARALLEL_PARTS = 3;
  var RETRIES = 4;
  var URLS_PER_CALL = 100;
  var LABELS = {
    video: "an MP4, MOV or WebM video",
    audio: "an MP3 or M4A audio file",
    document: "a PDF",
    image: "a PNG, JPEG or WebP image",
    captions: "a WebVTT (.vtt) captions file",
  };
  var tokenMeta = document.querySelector("meta[name='csrf-token']");

  function formatSize(bytes) {
    var units = [["GB", 1073741824], ["MB", 1048576], ["KB", 1024]];
    for (var i = 0; i < units.length; i += 1) {
      if (bytes >= units[i][1]) {
        return (bytes / units[i][1]).toPrecision(3).replace(/\.?0+$/, "") + " " + units[i][0];
      }
    }
    return bytes + " bytes";
  }

  function purposeOf(file) {
    var name = file.name.toLowerCase();
    var type = (file.type || "").toLowerCase();
    if (type === "application/pdf" || /\.pdf$/.test(name)) return "document";
    if (type === "text/vtt" || /\.vtt$/.test(name)) return "captions";
    if (type.indexOf("image/") === 0 || /\.(png|jpe?g|webp)$/.test(name)) return "image";
    if (type.indexOf("audio/") === 0 || /\.(mp3|m4a)$/.test(name)) return "audio";
    return "video";
  }

  function wanted(purposes) {
    return purposes.map(function (p) { return LABELS[p]; }).join(" or ");
  }

  function cancelled() {
    var error = new Error("Upload cancelled.");
    error.cancelled = true;
    return error;
  }

  // A JSON call to the upload API; rejects with the server's own message.
  function api(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": tokenMeta ? tokenMeta.content : "" },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (!response.ok) {
          throw new Error(answer.error || "The server couldn't take this upload (" + response.status + "). Please try again.");
        }
        return answer;
      });
    }, function () {
      throw new Error("Aqueduct can't be reached. Check your connection and try again.");
    });
  }

  // One request with upload progress; `job.requests` lets Cancel abort it.
  function send(job, method, url, body, onProgress) {
    return new Promise(function (resolve, reject) {
      if (job.cancelled) {
        reject(cancelled());
        return;
      }
      var xhr = new XMLHttpRequest();
      job.requests.push(xhr);
      xhr.open(method, url);
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable) onProgress(event.loaded);
      };
      xhr.onload = function () {
        job.requests.splice(job.requests.indexOf(xhr), 1);
        if (xhr.status >= 200 && xhr.status < 300) resolve(xhr);
        else reject(new Error("Storage answered " + xhr.status + "."));
      };
      xhr.onerror = function () {
        job.requests.splice(job.requests.indexOf(xhr), 1);
        reject(new Error("The connection to storage dropped."));
      };
      xhr.onabort = function () {
        job.requests.splice(job.requests.indexOf(xhr), 1);
        reject(cancelled());
      };
      xhr.send(body);
    });
  }

  function wait(ms) {
    return new Promise(function (resolve) { window.setTimeout(resolve, ms); });
  }

  // Send one part, trying again after 1, 2, 4 and 8 seconds if it fails.
  function sendPart(job, url, blob, onProgress, attempt) {
    return send(job, "PUT", url, blob, onProgress).catch(function (error) {
      if (error.cancelled || job.cancelled || attempt >= RETRIES) throw error;
      onProgress(0);
      return wait(1000 * Math.pow(2, attempt)).then(function () {
        return sendPart(job, url, blob, onProgress, attempt + 1);
      });
    });
  }

  function uploadSingle(job, grant) {
    var form = new FormData();
    Object.keys(grant.fields).forEach(function (name) { form.append(name, grant.fields[name]); });
    form.append("file", job.file);
    return send(job, "POST", grant.url, form, function (loaded) {
      job.progress(Math.min(loaded, job.file.size));
    }).then(function () {
      return api(job.base + "/confirm");
    });
  }

  function uploadMultipart(job, grant) {
    var file = job.file;
    var numbers = [];
    for (var n = 1; n <= grant.part_count; n += 1) numbers.push(n);
    var loaded = {};
    var urls = {};

    function report() {
      var total = 0;
      Object.keys(loaded).forEach(function (k) { total += loaded[k]; });
      job.progress(total);
    }

    function urlFor(number) {
      if (urls[number]) return Promise.resolve(urls[number]);
      var batch = numbers.filter(function (k) { return k >= number && !urls[k]; }).slice(0, URLS_PER_CALL);
      return api(job.base + "/parts", { part_numbers: batch }).then(function (answer) {
        Object.keys(answer.urls).forEach(function (k) { urls[k] = answer.urls[k]; });
        return urls[number];
      });
    }

    var queue = numbers.slice();
    function worker() {
      var number = queue.shift();
      if (number === undefined) return Promise.resolve();
      var start = (number - 1) * grant.part_size;
      var blob = file.slice(start, Math.min(start + grant.part_size, file.size));
      return urlFor(number).then(function (url) {
        return sendPart(job, url, blob, function (bytes) {
          loaded[number] = bytes;
          report();
        }, 0);
      }).then(function () {
        loaded[number] = blob.size;
        report();
        return worker();
      });
    }

    var workers = [];
    for (var w = 0; w < Math.min(PARALLEL_PARTS, numbers.length); w += 1) workers.push(worker());
    // Storage lists the parts that arrived; the server checks them against the announced size.
    return Promise.all(workers).then(function () {
      return api(job.base + "/complete");
    });
  }

  function setUp(box) {
    var input = box.querySelector("input[type=file]");
    var hidden = box.querySelector("input[type=hidden]");
    var status = box.querySelector("[data-upload-status]");
    var nameLine = box.querySelector("[data-upload-name]");
    var bar = box.querySelector("[data-upload-progress]");
    var percent = box.querySelector("[data-upload-percent]");
    var message = box.querySelector("[data-upload-message]");
    var cancelButton = box.querySelector("[data-upload-cancel]");
    var form = box.closest("form");
    var startUrl = box.dataset.uploadUrl;
    var job = null;

    function purposes() {
      var kind = form && form.querySelector("select[name=kind]");
      var byKind = box.dataset.purposesByKind ? JSON.parse(box.dataset.purposesByKind) : null;
      var list = byKind && kind ? byKind[kind.value] : box.dataset.purposes;
      return (list || "").split(" ").filter(Boolean);
    }

    function show(state, text) {
      status.hidden = false;
      box.dataset.state = state;
      message.textContent = text;
      cancelButton.hidden = state !== "uploading";
    }

    function progress(bytes) {
      var value = job && job.file.size ? Math.floor((100 * bytes) / job.file.size) : 0;
      bar.value = value;
      percent.textContent = value + "%";
    }

    function finish() {
      job = null;
      if (form) form.dataset.uploading = String(Math.max(0, (parseInt(form.dataset.uploading, 10) || 1) - 1));
    }

    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file || job) return;
      var allowed = purposes();
      var purpose = purposeOf(file);
      nameLine.textContent = file.name + " · " + formatSize(file.size);
      if (allowed.indexOf(purpose) === -1) {
        input.value = "";
        show("failed", "“" + file.name + "” isn't " + wanted(allowed) + ". Please choose " + wanted(allowed) + ".");
        return;
      }
      job = { file: file, requests: [], cancelled: false, progress: progress };
      if (form) form.dataset.uploading = String((parseInt(form.dataset.uploading, 10) || 0) + 1);
      bar.hidden = false;
      percent.hidden = false;
      progress(0);
      show("uploading", "Uploading…");
      var current = job;
      var body = { filename: file.name, content_type: file.type, size: file.size, purpose: purpose };
      if (box.dataset.courseId) body.course_id = parseInt(box.dataset.courseId, 10);
      api(startUrl, body).then(function (grant) {
        current.assetId = grant.asset_id;
        current.base = startUrl + "/" + grant.asset_id;
        return grant.method === "multipart" ? uploadMultipart(current, grant) : uploadSingle(current, grant);
      }).then(function (result) {
        if (result.status === "ready") {
          hidden.value = String(result.asset_id);
          input.value = "";
          progress(file.size);
          show("ready", "Uploaded and checked. Save to use it.");
        } else {
          hidden.value = "";
          show("failed", result.reason || "The file couldn't be used.");
        }
        finish();
      }).catch(function (error) {
        input.value = "";
        if (current.assetId && !current.abortSent) {
          current.abortSent = true;
          api(current.base + "/abort").catch(function () {});
        }
        show("failed", error.cancelled ? "Upload cancelled." : error.message + " Choose the file again to retry.");
        finish();
      });
    });

    cancelButton.addEventListener("click", function () {
      if (!job) return;
      var current = job;
      current.cancelled = true;
      current.requests.slice().forEach(function (xhr) { xhr.abort(); });
      if (current.assetId && !current.abortSent) {
        current.abortSent = true;
        api(current.base + "/abort").catch(function () {});
      }
    });
  }

  var boxes = document.querySelectorAll("[data-upload]");
  for (var i = 0; i < boxes.length; i += 1) setUp(boxes[i]);

  // Saving while a file is still on its way would lose it: hold the form until it arrives.
  var forms = document.querySelectorAll("form");
  for (var f = 0; f < forms.length; f += 1) {
    forms[f].addEventListener("submit", function (event) {
      var pending = parseInt(this.dataset.uploading, 10) || 0;
      if (pending > 0) {
        event.preventDefault();
        var line = this.querySelector("[data-upload][data-state=uploading] [data-upload-message]");
        if (line) line.textContent = "Still uploading — save once it reaches 100%, or cancel it.";
      }
    });
  }
  window.addEventListener("beforeunload", function (event) {
    if (document.querySelector("form[data-uploading]:not([data-uploading='0'])")) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
