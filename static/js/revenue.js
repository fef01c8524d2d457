/* The revenue view's chart: stacked monthly bars of session and passive income.
   The numbers come from the JSON block beside the chart; the table beneath holds the
   same numbers and is what the page shows without JavaScript. */
(function () {
  "use strict";

  var figure = document.querySelector("[data-revenue-chart]");
  var source = document.getElementById("revenue-chart-data");
  if (!figure || !source || !window.Chart) {
    return;
  }
  var data = JSON.parse(source.textContent);
  var styles = getComputedStyle(document.documentElement);
  function colour(name, fallback) {
    return styles.getPropertyValue(name).trim() || fallback;
  }

  var money;
  try {
    money = new Intl.NumberFormat(document.documentElement.lang || "en", {
      style: "currency",
      currency: data.currency,
      maximumFractionDigits: 0
    });
  } catch (error) {
    money = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
  }
  var exact = new Intl.NumberFormat(document.documentElement.lang || "en", {
    style: "currency",
    currency: data.currency
  });

  figure.hidden = false;
  var canvas = document.getElementById("revenue-chart");
  var phone = window.matchMedia("(max-width: 39.99em)").matches;

  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        {
          label: "Sessions (bucket)",
          data: data.session,
          backgroundColor: colour("--accent", "#c8703a"),
          borderRadius: 3,
          stack: "income"
        },
        {
          label: "Offerings (aqueduct)",
          data: data.passive,
          backgroundColor: colour("--teal", "#0e6f68"),
          borderRadius: 3,
          stack: "income"
        }
      ]
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? false : { duration: 400 },
      interaction: { mode: "index", intersect: false },
      scales: {
        x: {
          stacked: true,
          grid: { display: false },
          ticks: { color: colour("--ink-soft", "#4d5f6c"), maxRotation: 0, autoSkip: true, autoSkipPadding: phone ? 6 : 12 }
        },
        y: {
          stacked: true,
          beginAtZero: true,
          grid: { color: "#eee9e1" },
          ticks: {
            color: colour("--ink-soft", "#4d5f6c"),
            maxTicksLimit: 6,
            callback: function (value) {
              return money.format(value);
            }
          }
        }
      },
      plugins: {
        legend: { position: "bottom", labels: { usePointStyle: true, pointStyle: "rectRounded", color: colour("--ink", "#1b2b38") } },
        tooltip: {
          callbacks: {
            label: function (item) {
              return " " + item.dataset.label + ": " + exact.format(item.parsed.y);
            },
            footer: function (items) {
              var total = items.reduce(function (sum, item) {
                return sum + item.parsed.y;
              }, 0);
              return "Total: " + exact.format(total);
            }
          }
        }
      }
    }
  });
})();
