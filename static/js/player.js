/* The lesson player: speed control, the position remembered, and completion at about 90 %.
 *
 * Works on any [data-player] holding a <video> or <audio>. The position is saved to
 * the server for enrolled learners (data-position-url) and in this browser for
 * everyone, so a lesson resumes where it was left. Links to the file last an hour;
 * if one lapses mid-lesson the player asks for a fresh one and carries on. With
 * data-complete-url, the lesson is marked complete once about 90 % has been played,
 * through the same endpoint as the "Mark complete" button, and the page shows it.
 *
 * A video with data-hls streams its HLS ladder through hls.js wherever Media Source
 * Extensions exist (Safari and iOS 17.1+ included), with a quality choice (Auto, or one
 * rung); else through the browser's own HLS (older iPhones). If neither can, or the
 * stream fails for good, the original file (src) plays instead.
 */
(function () {
  "use strict";

  var SAVE_EVERY_MS = 10000;
  var COMPLETE_AT = 0.9;
  var tokenMeta = document.querySelector("meta[name='csrf-token']");

  function formatTime(seconds) {
    var s = Math.floor(seconds % 60);
    var m = Math.floor(seconds / 60) % 60;
    var h = Math.floor(seconds / 3600);
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  function storageGet(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (error) {
      return null;
    }
  }

  function storageSet(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch (error) {
      /* private mode or storage full: the server copy still works */
    }
  }

  // The page's "Mark complete" box and outline show the lesson as done, without a reload.
  function showCompleted() {
    var box = document.querySelector("[data-lesson-complete]");
    if (box) {
      var pending = box.querySelector("[data-complete-pending]");
      var done = box.querySelector("[data-complete-done]");
      if (pending) {
        pending.hidden = true;
      }
      if (done) {
        done.hidden = false;
      }
    }
    var current = document.querySelector("[data-outline-current]");
    if (current) {
      current.classList.remove("state-open");
      current.classList.add("state-done");
      var mark = current.querySelector(".outline-mark");
      if (mark) {
        mark.className = "outline-mark mark-done";
      }
    }
  }

  function markComplete(url) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": tokenMeta ? tokenMeta.content : "",
      },
      body: "{}",
    }).then(function (response) {
      return response.ok ? response.json() : null;
    });
  }

  // The ladder through hls.js: quality choice, recovery from network and media errors, the original as
  // the last resort. Returns true when hls.js (or the browser) plays the stream.
  // On the CloudFront path the edge lets segments through on signed cookies that last a couple of
  // minutes: while the video plays, renew them at half their life (the server checks access each time),
  // and at once when playing resumes after they may have lapsed.
  // Returns `renew(force)`, a promise settled once the pass is fresh (at once when there is no pass).
  function keepPass(media) {
    var url = media.dataset.hlsKeep;
    var every = (parseInt(media.dataset.hlsKeepSeconds, 10) || 120) * 500;
    var renewed = Date.now();
    function renew(force) {
      if (!url || (!force && Date.now() - renewed < every)) {
        return Promise.resolve();
      }
      renewed = Date.now();
      return fetch(url, { credentials: "same-origin", cache: "no-store" }).catch(function () {
        /* offline for a moment: the next renewal, or the player's retry, catches up */
      });
    }
    if (url) {
      window.setInterval(function () {
        if (!media.paused) {
          renew(false);
        }
      }, 5000);
      ["play", "seeking"].forEach(function (name) {
        media.addEventListener(name, function () {
          renew(false); // after a long pause the pass may have lapsed
        });
      });
    }
    return renew;
  }

  function stream(box, media, say) {
    var url = media.dataset.hls;
    if (!url) {
      return false;
    }
    var Hls = window.Hls;
    if (!Hls || !Hls.isSupported()) {
      // No Media Source Extensions (an older iPhone): the browser's own HLS, if it has it.
      if (media.canPlayType("application/vnd.apple.mpegurl")) {
        // The browser's own HLS sends no cookies to the CloudFront domain: its segments come through the app.
        media.setAttribute("src", media.dataset.hlsKeep ? url.replace(/master\.m3u8$/, "app/master.m3u8") : url);
        return true;
      }
      return false;
    }
    var renewPass = keepPass(media);
    var original = media.getAttribute("src");
    var hls = new Hls({
      enableWorker: false,
      capLevelToPlayerSize: true,
      startLevel: -1,
      // On the CloudFront path segments come from the edge on its signed cookies, which need credentials.
      xhrSetup: media.dataset.hlsKeep
        ? function (xhr) {
            xhr.withCredentials = true;
          }
        : undefined,
    });
    var quality = box.querySelector("[data-player-quality]");
    var fatal = 0;
    media.removeAttribute("src");
    hls.loadSource(url);
    hls.attachMedia(media);
    hls.on(Hls.Events.MANIFEST_PARSED, function () {
      if (!quality || hls.levels.length < 2) {
        return;
      }
      hls.levels
        .map(function (level, index) {
          return { index: index, height: Math.min(level.height, level.width) };
        })
        .sort(function (a, b) {
          return b.height - a.height;
        })
        .forEach(function (level) {
          var option = document.createElement("option");
          option.value = String(level.index);
          option.textContent = level.height + "p";
          quality.appendChild(option);
        });
      quality.closest(".player-quality").hidden = false;
      quality.addEventListener("change", function () {
        hls.currentLevel = parseInt(quality.value, 10);
      });
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, function (event, data) {
      if (!quality || quality.value !== "-1") {
        return;
      }
      var level = hls.levels[data.level];
      quality.options[0].textContent = level ? "Auto (" + Math.min(level.height, level.width) + "p)" : "Auto";
    });
    hls.on(Hls.Events.FRAG_LOADED, function () {
      fatal = 0; // playing again: only errors in a row give up on the stream
    });
    hls.on(Hls.Events.ERROR, function (event, data) {
      if (!data.fatal) {
        return;
      }
      fatal += 1;
      if (fatal <= 3 && data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        // A link or pass that lapsed, a network blip: the playlist routes hand out fresh ones.
        renewPass(true).then(function () {
          hls.startLoad();
        });
      } else if (fatal <= 3 && data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls.recoverMediaError();
      } else {
        var at = media.currentTime || 0;
        hls.destroy();
        say("Playing the original file.");
        media.setAttribute("src", original);
        media.load();
        media.currentTime = at;
      }
    });
    box.hls = hls;
    return true;
  }

  // Keys while the player has focus, as on the video sites learners know. The browser's own controls
  // already answer Space on the video itself, so that one is left to them there.
  function keyboard(box, media, speed, say) {
    function seek(by) {
      var end = isFinite(media.duration) ? media.duration : media.currentTime + Math.max(by, 0);
      media.currentTime = Math.min(Math.max(0, media.currentTime + by), end);
      say((by < 0 ? "Back " : "Forward ") + Math.abs(by) + " s · " + formatTime(media.currentTime));
    }
    function volume(by) {
      media.muted = false;
      media.volume = Math.round(Math.min(1, Math.max(0, media.volume + by)) * 10) / 10;
      say("Volume " + Math.round(media.volume * 100) + " %");
    }
    function rate(step) {
      if (!speed) {
        return;
      }
      var next = speed.selectedIndex + step;
      if (next < 0 || next >= speed.options.length) {
        return;
      }
      speed.selectedIndex = next;
      speed.dispatchEvent(new Event("change"));
      say("Speed " + speed.value + "×");
    }
    function captions() {
      var track = media.textTracks && media.textTracks[0];
      if (!track) {
        say("This lesson has no captions");
        return;
      }
      track.mode = track.mode === "showing" ? "hidden" : "showing";
      say(track.mode === "showing" ? "Captions on" : "Captions off");
    }
    function fullScreen() {
      if (media.tagName !== "VIDEO") {
        return;
      }
      if (document.fullscreenElement) {
        document.exitFullscreen();
      } else if (media.requestFullscreen) {
        media.requestFullscreen();
      }
    }
    var actions = {
      k: function () {
        if (media.paused) {
          media.play();
        } else {
          media.pause();
        }
      },
      ArrowLeft: function () {
        seek(-5);
      },
      ArrowRight: function () {
        seek(5);
      },
      j: function () {
        seek(-10);
      },
      l: function () {
        seek(10);
      },
      ArrowUp: function () {
        volume(0.1);
      },
      ArrowDown: function () {
        volume(-0.1);
      },
      m: function () {
        media.muted = !media.muted;
        say(media.muted ? "Muted" : "Sound on");
      },
      c: captions,
      f: fullScreen,
      ">": function () {
        rate(1);
      },
      "<": function () {
        rate(-1);
      },
      Home: function () {
        media.currentTime = 0;
      },
    };
    actions[" "] = actions.k;
    box.addEventListener("keydown", function (event) {
      var target = event.target;
      var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      if (event.key === ">" || event.key === "<") {
        key = event.key;
      }
      if (event.ctrlKey || event.metaKey || event.altKey || !actions[key]) {
        return;
      }
      if (target.closest("select, input, textarea, button, a, summary")) {
        return; // those keys are the control's own
      }
      if (key === " " && target === media) {
        return; // the browser's controls play and pause on Space
      }
      event.preventDefault();
      actions[key]();
    });
  }

  function setUp(box) {
    var media = box.querySelector("video, audio");
    if (!media) {
      return;
    }
    var status = box.querySelector("[data-player-status]");
    var restart = box.querySelector("[data-player-restart]");
    var speed = box.querySelector("[data-player-speed]");
    var positionKey = "aqueduct.position." + box.dataset.lessonId;
    var positionUrl = box.dataset.positionUrl;
    var serverStart = parseFloat(box.dataset.startAt) || 0;
    var localStart = parseFloat(storageGet(positionKey)) || 0;
    var startAt = Math.max(serverStart, positionUrl ? 0 : localStart);
    var lastSaved = -1;
    var lastSaveTime = 0;
    var recoveries = 0;
    var completeUrl = box.dataset.completeUrl;
    var completing = false;

    // Speed: remembered across lessons in this browser.
    var savedRate = storageGet("aqueduct.speed");
    if (speed) {
      if (savedRate && speed.querySelector("option[value='" + savedRate + "']")) {
        speed.value = savedRate;
      }
      // The default rate too: loading a source (the HLS stream attaching) resets the rate to it.
      media.defaultPlaybackRate = media.playbackRate = parseFloat(speed.value) || 1;
      speed.addEventListener("change", function () {
        media.defaultPlaybackRate = media.playbackRate = parseFloat(speed.value) || 1;
        storageSet("aqueduct.speed", speed.value);
      });
      media.addEventListener("ratechange", function () {
        var option = speed.querySelector("option[value='" + media.playbackRate + "']");
        if (option) {
          speed.value = option.value;
        }
      });
    }

    function say(text) {
      if (status) {
        status.textContent = text;
      }
    }
    stream(box, media, say);
    keyboard(box, media, speed, say);

    function save(force) {
      var seconds = Math.floor(media.currentTime || 0);
      if (media.duration && seconds >= media.duration - 2) {
        seconds = 0; // finished: the next visit starts from the beginning
      }
      if (seconds === lastSaved || (!force && Date.now() - lastSaveTime < SAVE_EVERY_MS)) {
        return;
      }
      lastSaved = seconds;
      lastSaveTime = Date.now();
      storageSet(positionKey, String(seconds));
      if (positionUrl && tokenMeta) {
        fetch(positionUrl, {
          method: "POST",
          credentials: "same-origin",
          keepalive: true,
          headers: { "Content-Type": "application/json", "X-CSRFToken": tokenMeta.content },
          body: JSON.stringify({ seconds: seconds }),
        }).catch(function () {
          /* offline for a moment: the next save catches up */
        });
      }
    }

    media.addEventListener("loadedmetadata", function () {
      box.dataset.duration = String(media.duration);
      if (startAt > 5 && startAt < media.duration - 5) {
        media.currentTime = startAt;
        say("Resuming at " + formatTime(startAt));
        if (restart) {
          restart.hidden = false;
        }
      }
      startAt = 0;
    });
    function checkComplete() {
      if (!completeUrl || completing || !media.duration || !isFinite(media.duration)) {
        return;
      }
      if (media.currentTime / media.duration < COMPLETE_AT) {
        return;
      }
      completing = true;
      markComplete(completeUrl)
        .then(function (answer) {
          completeUrl = null; // done, or refused: either way, ask only once
          if (answer && answer.completed) {
            say("Lesson complete");
            showCompleted();
          }
        })
        .catch(function () {
          /* offline for a moment: try again a little later */
          window.setTimeout(function () {
            completing = false;
          }, SAVE_EVERY_MS);
        });
    }

    media.addEventListener("timeupdate", function () {
      save(false);
      checkComplete();
    });
    media.addEventListener("pause", function () {
      save(true);
    });
    media.addEventListener("ended", function () {
      save(true);
    });
    window.addEventListener("pagehide", function () {
      save(true);
    });

    if (restart) {
      restart.addEventListener("click", function () {
        media.currentTime = 0;
        restart.hidden = true;
        say("");
        media.focus();
      });
    }

    // A link that expired (or a network blip): ask the app for a fresh one, keep the place.
    media.addEventListener("error", function () {
      if (box.hls) {
        return; // hls.js recovers its own stream (see stream())
      }
      if (recoveries >= 3) {
        say("This file can't be played right now. Please reload the page.");
        return;
      }
      recoveries += 1;
      startAt = media.currentTime || lastSaved || 0;
      var src = media.getAttribute("src");
      window.setTimeout(function () {
        media.src = src;
        media.load();
      }, 500 * recoveries);
    });
  }

  var players = document.querySelectorAll("[data-player]");
  for (var i = 0; i < players.length; i += 1) {
    setUp(players[i]);
  }
})();
