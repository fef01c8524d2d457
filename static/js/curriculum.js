/* The curriculum editor, on top of pages that already work without JavaScript:
 * - drag sections, and lessons within and across sections, then save the order as JSON;
 * - on the lesson form, show only the fields that fit the chosen kind of lesson.
 * (Confirmations in <details class="popover"> are handled on every page by app.js.)
 */
(function () {
  "use strict";

  function $all(root, selector) {
    return Array.prototype.slice.call(root.querySelectorAll(selector));
  }

  /* ---------------------------------------------------------------- */
  /* Lesson form: fields by kind                                       */
  /* ---------------------------------------------------------------- */

  var lessonForm = document.querySelector("[data-lesson-form]");
  if (lessonForm) {
    var kindSelect = lessonForm.querySelector("select[name='kind']");
    var showFieldsFor = function () {
      var kind = kindSelect.value;
      $all(lessonForm, "[data-for-kinds]").forEach(function (element) {
        element.hidden = element.getAttribute("data-for-kinds").split(" ").indexOf(kind) === -1;
      });
      var bodyLabel = lessonForm.querySelector("label[for='body']");
      if (bodyLabel) {
        bodyLabel.textContent = kind === "text" ? "Lesson text" : "Notes shown with the lesson (optional)";
      }
      var file = lessonForm.querySelector("input[name='media_file']");
      if (file) {
        file.accept = kind === "download" ? ".pdf,application/pdf" : "video/mp4,video/webm,audio/mpeg,audio/mp4,.mp4,.m4v,.webm,.mp3,.m4a";
      }
    };
    if (kindSelect) {
      kindSelect.addEventListener("change", showFieldsFor);
      showFieldsFor();
    }
  }

  /* ---------------------------------------------------------------- */
  /* Curriculum: drag and drop                                         */
  /* ---------------------------------------------------------------- */

  var root = document.querySelector(".curriculum[data-order-url]");
  var sectionList = root && root.querySelector(".curriculum-sections");
  // Touch screens move things with the arrow buttons; drag and drop needs a mouse.
  var finePointer = !window.matchMedia || window.matchMedia("(pointer: fine)").matches;
  if (!root || !sectionList || !finePointer || !("draggable" in document.createElement("li"))) {
    return;
  }

  var tokenMeta = document.querySelector("meta[name='csrf-token']");
  var statusLine = root.querySelector(".curriculum-status");
  var dragged = null; // the <li> being dragged
  var origin = null; // where it came from, to put it back if the drag is cancelled
  var dropped = false;
  var before = "";

  root.classList.add("dnd-ready");
  $all(root, ".drag-handle, .curriculum-dnd-hint").forEach(function (element) {
    element.hidden = false;
  });

  function say(message, isError) {
    if (statusLine) {
      statusLine.textContent = message;
      statusLine.classList.toggle("is-error", Boolean(isError));
    }
  }

  function currentOrder() {
    return {
      sections: $all(sectionList, ".curriculum-section").map(function (section) {
        return {
          id: Number(section.getAttribute("data-section-id")),
          lessons: $all(section, ".curriculum-lesson").map(function (lesson) {
            return Number(lesson.getAttribute("data-lesson-id"));
          }),
        };
      }),
    };
  }

  // Keep numbers, arrows and "No lessons yet" notes true to the new order.
  function refresh() {
    var sections = $all(sectionList, ".curriculum-section");
    sections.forEach(function (section, index) {
      var number = section.querySelector("[data-section-number]");
      if (number) {
        number.textContent = String(index + 1);
      }
      var header = section.querySelector(".curriculum-section-header");
      header.querySelector("[data-move='up']").disabled = index === 0;
      header.querySelector("[data-move='down']").disabled = index === sections.length - 1;
      var lessons = $all(section, ".curriculum-lesson");
      var empty = section.querySelector(".curriculum-no-lessons");
      if (empty) {
        empty.hidden = lessons.length > 0;
      }
    });
    var all = $all(sectionList, ".curriculum-lesson");
    all.forEach(function (lesson, index) {
      lesson.querySelector("[data-move='up']").disabled = index === 0;
      lesson.querySelector("[data-move='down']").disabled = index === all.length - 1;
    });
  }

  function save() {
    var order = currentOrder();
    var body = JSON.stringify(order);
    if (body === before) {
      return;
    }
    root.classList.add("is-saving");
    say("Saving the new order…");
    fetch(root.getAttribute("data-order-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": tokenMeta ? tokenMeta.getAttribute("content") : "",
      },
      body: body,
    })
      .then(function (response) {
        // A login page after a redirect (an expired session) is not a saved order.
        if (!response.ok || response.redirected) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (answer) {
        if (!answer || answer.status !== "saved") {
          throw new Error("unexpected answer");
        }
        say("New order saved.");
      })
      .catch(function () {
        say("The new order couldn't be saved. Reloading the page to show the saved order…", true);
        window.setTimeout(function () {
          window.location.reload();
        }, 2000);
      })
      .then(function () {
        root.classList.remove("is-saving");
      });
  }

  // An item only becomes draggable while its handle is held, so text and buttons behave normally.
  root.addEventListener("pointerdown", function (event) {
    var handle = event.target.closest(".drag-handle");
    if (!handle) {
      return;
    }
    var item = handle.closest(handle.getAttribute("data-drag") === "section" ? ".curriculum-section" : ".curriculum-lesson");
    if (item) {
      item.draggable = true;
    }
  });
  root.addEventListener("pointerup", function () {
    $all(root, "[draggable='true']").forEach(function (item) {
      if (item !== dragged) {
        item.draggable = false;
      }
    });
  });

  root.addEventListener("dragstart", function (event) {
    var item = event.target;
    var movable = item.classList && (item.classList.contains("curriculum-section") || item.classList.contains("curriculum-lesson"));
    if (!movable || item.getAttribute("draggable") !== "true") {
      return;
    }
    dragged = item;
    origin = { parent: item.parentNode, next: item.nextSibling };
    dropped = false;
    before = JSON.stringify(currentOrder());
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.id);
    window.requestAnimationFrame(function () {
      item.classList.add("is-dragging");
    });
  });

  function isSection(item) {
    return item.classList.contains("curriculum-section");
  }

  // The sibling the dragged item should go before, judged by the pointer's height.
  function nextSiblingAt(container, selector, y) {
    var candidates = $all(container, selector).filter(function (element) {
      return element !== dragged && element.parentNode === container;
    });
    for (var i = 0; i < candidates.length; i += 1) {
      var box = candidates[i].getBoundingClientRect();
      if (y < box.top + box.height / 2) {
        return candidates[i];
      }
    }
    return null;
  }

  root.addEventListener("dragover", function (event) {
    if (!dragged) {
      return;
    }
    if (isSection(dragged)) {
      if (!sectionList.contains(event.target)) {
        return;
      }
      event.preventDefault();
      var nextSection = nextSiblingAt(sectionList, ".curriculum-section", event.clientY);
      if (nextSection !== dragged.nextSibling || nextSection === null) {
        sectionList.insertBefore(dragged, nextSection);
      }
      return;
    }
    var section = event.target.closest && event.target.closest(".curriculum-section");
    var list = section && section.querySelector(".curriculum-lessons");
    if (!list) {
      return;
    }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    var next = nextSiblingAt(list, ".curriculum-lesson", event.clientY);
    var anchor = next || list.querySelector(".curriculum-no-lessons");
    if (dragged.nextSibling !== anchor || dragged.parentNode !== list) {
      list.insertBefore(dragged, anchor);
    }
  });

  root.addEventListener("drop", function (event) {
    if (dragged) {
      event.preventDefault();
      dropped = true;
    }
  });

  root.addEventListener("dragend", function () {
    if (!dragged) {
      return;
    }
    var item = dragged;
    dragged = null;
    item.classList.remove("is-dragging");
    item.draggable = false;
    if (!dropped) {
      origin.parent.insertBefore(item, origin.next);
      refresh();
      return;
    }
    refresh();
    save();
  });
})();
