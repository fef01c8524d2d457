/* The curriculum editor, on top of pages that already work without JavaScript:
 * - drag sections, and lessons within and across sections (with SortableJS, by mouse or by touch),
 *   then save the order as JSON;
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
  /* Curriculum: drag and drop (SortableJS, by mouse or by touch)      */
  /* ---------------------------------------------------------------- */

  var root = document.querySelector(".curriculum[data-order-url]");
  var sectionList = root && root.querySelector(".curriculum-sections");
  if (!root || !sectionList || typeof window.Sortable !== "function") {
    return;
  }

  var tokenMeta = document.querySelector("meta[name='csrf-token']");
  var statusLine = root.querySelector(".curriculum-status");
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
        empty.parentNode.appendChild(empty); // a lesson dropped into an empty section lands after the note
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

  // Shared by both levels: an item moves only by its handle; on a touch screen the handle is held
  // a moment first, so a finger that lands on it while scrolling still scrolls the page.
  function options(kind, group) {
    return {
      group: group,
      handle: ".drag-handle[data-drag='" + kind + "']",
      draggable: kind === "section" ? ".curriculum-section" : ".curriculum-lesson",
      animation: 150,
      delay: 150,
      delayOnTouchOnly: true,
      touchStartThreshold: 5,
      ghostClass: "is-dragging",
      chosenClass: "is-chosen",
      fallbackClass: "is-drag-image",
      onStart: function () {
        before = JSON.stringify(currentOrder());
      },
      onEnd: function () {
        refresh();
        save();
      },
    };
  }

  window.Sortable.create(sectionList, options("section", "sections"));
  $all(sectionList, ".curriculum-lessons").forEach(function (list) {
    // One group for every section's lessons, so a lesson can move to another section.
    window.Sortable.create(list, options("lesson", "lessons"));
  });
})();
