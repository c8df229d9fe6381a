/* The impact dashboard's charts: each <div class="chart"> carries its table's headings and
   rows and says which column gives the categories and which the series (a pivot column
   turns its values into one series each); ECharts draws it. The numbers are the table's
   own, so the chart can never show what the table and its downloads do not. */
(function () {
  function seriesOf(spec) {
    var rows = spec.rows, axis = [], series = {};
    rows.forEach(function (row) {
      if (axis.indexOf(row[spec.axis]) < 0) { axis.push(row[spec.axis]); }
    });
    rows.forEach(function (row) {
      spec.series.forEach(function (column) {
        var name = spec.pivot === null ? spec.headers[column] : row[spec.pivot];
        if (!series[name]) { series[name] = axis.map(function () { return 0; }); }
        series[name][axis.indexOf(row[spec.axis])] = row[column] === null ? 0 : row[column];
      });
    });
    return {
      axis: axis,
      series: Object.keys(series).map(function (name) {
        return { name: String(name), type: spec.kind, data: series[name] };
      })
    };
  }

  function draw(box) {
    var spec = JSON.parse(box.dataset.chart);
    var data = seriesOf(spec);
    var chart = echarts.init(box, null, { renderer: "canvas" });
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      grid: { left: 40, right: 16, top: 40, bottom: 40, containLabel: true },
      xAxis: { type: "category", data: data.axis.map(String) },
      yAxis: { type: "value" },
      series: data.series
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.echarts) { return; }
    document.querySelectorAll(".chart[data-chart]").forEach(draw);
  });
})();
