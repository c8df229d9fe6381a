/* A need's place on a map (the console's need page): Leaflet over the tile server the
   config names, one marker at the coordinates WeChat sent. The page only loads this when
   a tile URL is configured; without one it shows the coordinates as text. */
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("need-map");
  if (!box || !window.L) { return; }
  var at = [parseFloat(box.dataset.latitude), parseFloat(box.dataset.longitude)];
  var map = L.map(box).setView(at, 16);
  L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: box.dataset.attribution }).addTo(map);
  L.marker(at).addTo(map).bindPopup(box.dataset.label);
});
