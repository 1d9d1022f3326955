// The dashboard's own script: it draws a report's chart with uPlot from
// the JSON the page carries. Figures are formatted by the server; the
// chart's values are exact integers divided here only to be drawn.
(function () {
  "use strict";
  var colours = ["#0b6e4f", "#c0392b", "#2c5aa0", "#b9770e", "#6c3483"];
  function draw() {
    var data = document.getElementById("chart-data");
    var box = document.getElementById("chart");
    if (!data || !box || typeof uPlot === "undefined") {
      return;
    }
    var chart = JSON.parse(data.textContent);
    var series = [{}];
    var columns = [chart.x];
    chart.series.forEach(function (s, i) {
      var d = Math.pow(10, s.scale);
      series.push({
        label: s.label + (s.unit ? " (" + s.unit + ")" : ""),
        stroke: colours[i % colours.length],
        width: 2
      });
      columns.push(s.values.map(function (v) { return v / d; }));
    });
    var height = 280;
    var plot = new uPlot({width: box.clientWidth, height: height, series: series}, columns, box);
    window.addEventListener("resize", function () {
      plot.setSize({width: box.clientWidth, height: height});
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
