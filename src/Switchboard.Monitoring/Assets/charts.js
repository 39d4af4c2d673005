// A hand-drawn SVG line chart: enough for a few series over a time window, and nothing to download.
'use strict';

window.SwitchboardCharts = (() => {
  const NS = 'http://www.w3.org/2000/svg';
  const W = 600, H = 180, LEFT = 44, RIGHT = 8, TOP = 8, BOTTOM = 20;

  function el(name, attributes, parent) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  // A round upper bound for the y axis: 1, 2 or 5 times a power of ten.
  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
    return 10 * power;
  }

  function format(value) {
    if (value >= 1000) return (value / 1000).toFixed(value >= 10000 ? 0 : 1) + 'k';
    if (value >= 10 || value === 0) return String(Math.round(value));
    return value.toFixed(value >= 1 ? 1 : 2);
  }

  // series: [{ name, color, dashed, points: [[timeMs, value|null], ...] }]; window: [fromMs, toMs].
  function draw(svg, series, window) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const [from, to] = window;
    let max = 0;
    for (const s of series) for (const [, v] of s.points) if (v != null && v > max) max = v;
    const top = niceMax(max);
    const x = t => LEFT + (t - from) / (to - from) * (W - LEFT - RIGHT);
    const y = v => TOP + (1 - v / top) * (H - TOP - BOTTOM);
    for (let i = 0; i <= 4; i++) {
      const value = top * i / 4;
      el('line', { x1: LEFT, x2: W - RIGHT, y1: y(value), y2: y(value), class: 'grid' }, svg);
      el('text', { x: LEFT - 6, y: y(value) + 3, 'text-anchor': 'end' }, svg).textContent = format(value);
    }
    for (let minutes = 0; minutes <= 5; minutes++) {
      const t = to - minutes * 60000;
      if (t < from) break;
      el('text', { x: x(t), y: H - 6, 'text-anchor': minutes === 0 ? 'end' : 'middle' }, svg).textContent = minutes === 0 ? 'now' : `-${minutes}m`;
    }
    let drawn = 0;
    for (const s of series) {
      // A gap (no snapshot for a while, or no value) breaks the line rather than drawing across it.
      let run = [];
      const flush = () => {
        if (run.length > 0) {
          const line = el('polyline', { points: run.join(' '), stroke: s.color }, svg);
          if (s.dashed) line.setAttribute('stroke-dasharray', '4 3');
          line.dataset.series = s.name;
          drawn += run.length;
        }
        run = [];
      };
      let previous = null;
      for (const [t, v] of s.points) {
        if (t < from) continue;
        if (v == null || (previous != null && t - previous > 5000)) flush();
        if (v != null) run.push(`${x(t).toFixed(1)},${y(v).toFixed(1)}`);
        previous = t;
      }
      flush();
    }
    svg.dataset.max = String(max);
    svg.dataset.points = String(drawn);
  }

  function legend(container, series) {
    container.textContent = '';
    for (const s of series) {
      const item = document.createElement('span');
      const swatch = document.createElement('i');
      swatch.style.background = s.color;
      item.append(swatch, s.name);
      container.appendChild(item);
    }
  }

  return { draw, legend, format };
})();
