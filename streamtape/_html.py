"""The page shell of streamtape's HTML (reports and diffs): styles for desktop, phone and
print, and a Content-Security-Policy that forbids every fetch and every script."""

from __future__ import annotations

from html import escape

__all__ = ["page"]

_CSS = """
:root{--fg:#1d2430;--muted:#5b6472;--line:#d9dee5;--bg:#fff;--panel:#f6f8fa;
--lifecycle:#8a94a6;--reasoning:#8e44ad;--text:#1f7a4d;--tool:#d9730d;--keepalive:#2b8fd6;
--error:#d1242f;--chunk:#46505f}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
main{max-width:1200px;margin:0 auto;padding:1.2rem}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .4rem;
overflow-wrap:anywhere}h3{font-size:1.05rem;margin:0}h4{font-size:.9rem;margin:1rem 0 .3rem;
color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
h4 code,h4 small{text-transform:none;letter-spacing:0;color:var(--fg)}
code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem;
white-space:pre-wrap;overflow-wrap:anywhere;margin:0;max-height:28rem;overflow:auto}
.interaction{border:1px solid var(--line);border-radius:10px;padding:1rem 1.1rem;margin:1rem 0;
box-shadow:0 1px 2px #0000000d}
.interaction>header{display:flex;flex-wrap:wrap;gap:.4rem .8rem;align-items:center}
.url{color:var(--muted);overflow-wrap:anywhere}
.badge{border-radius:99px;padding:.05rem .6rem;font-size:.85rem;font-weight:600}
.badge.ok{background:#dcf5e6;color:#11643a}.badge.warn{background:#fff1d6;color:#8a5300}
.badge.bad{background:#ffe0e0;color:#a01822}
.summary{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.8rem 0}
.summary dt{color:var(--muted)}.summary dd{margin:0;overflow-wrap:anywhere}
.quote{font-style:italic}
.metrics{display:grid;grid-template-columns:repeat(auto-fill,minmax(8.5rem,1fr));gap:.5rem;
margin:.8rem 0}
.metric{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:.35rem .6rem}
.metric .label{display:block;font-size:.78rem;color:var(--muted)}
.metric .value{font-size:1.15rem;font-weight:600;font-variant-numeric:tabular-nums}
.problems{border-left:4px solid var(--error);background:#fff5f5;padding:.2rem .8rem;margin:.6rem 0}
.problems ul{margin:.2rem 0 .5rem;padding-left:1.2rem;overflow-wrap:anywhere}
figure{margin:1rem 0}figcaption{font-size:.8rem;color:var(--muted);margin-top:.2rem}
.lanes{display:grid;grid-template-columns:7.5rem 1fr;row-gap:2px;position:relative}
.lane-label{font-size:.8rem;color:var(--muted);display:flex;align-items:center;gap:.3rem;
white-space:nowrap}
.lane-label small{color:#98a1ae}
svg.lane{width:100%;display:block;background:var(--panel);border-radius:3px}
svg line{vector-effect:non-scaling-stroke;stroke-width:1.5px}
svg line.chunk{stroke:var(--chunk);stroke-width:2px}
.swatch{flex-shrink:0;display:inline-block;width:.7rem;height:.7rem;border-radius:2px;background:var(--chunk)}
line.lifecycle{stroke:var(--lifecycle)}.swatch.lifecycle{background:var(--lifecycle)}
line.reasoning{stroke:var(--reasoning)}.swatch.reasoning,rect.reasoning{background:var(--reasoning);
fill:var(--reasoning)}
line.text{stroke:var(--text)}.swatch.text,rect.text{background:var(--text);fill:var(--text)}
line.tool{stroke:var(--tool)}.swatch.tool,rect.tool{background:var(--tool);fill:var(--tool)}
line.keepalive{stroke:var(--keepalive)}.swatch.keepalive{background:var(--keepalive)}
line.error{stroke:var(--error);stroke-width:3px}.swatch.error{background:var(--error)}
.overlay{position:absolute;left:7.5rem;right:0;top:0;bottom:0;pointer-events:none}
.gap{position:absolute;top:0;bottom:0;background:#f5a62333;border-left:1px dashed #c98300;
border-right:1px dashed #c98300}
.marker{position:absolute;top:-2px;bottom:0;border-left:2px dashed #0b5cad}
.marker span{position:absolute;bottom:100%;font-size:.7rem;color:#0b5cad;white-space:nowrap}
.marker.ttfb span{right:3px}.marker.ttft span{left:3px}
.marker.ttft{border-color:#1f7a4d}.marker.ttft span{color:#1f7a4d}
.axis-row{display:grid;grid-template-columns:7.5rem 1fr}
.axis{position:relative;height:1.3rem;font-size:.72rem;color:var(--muted);
border-top:1px solid var(--line)}
.axis span{position:absolute;top:.1rem;transform:translateX(-50%);white-space:nowrap}
.axis span:first-child{transform:none}
.axis span:last-child:not(:first-child){transform:translateX(-100%)}
.timeline{margin-top:1.6rem}
.gaps ol{margin:.2rem 0;padding-left:1.4rem}
details.events{margin-top:1rem}details.events summary{cursor:pointer;color:#0b5cad}
.scroll{overflow-x:auto;max-height:32rem;overflow-y:auto;margin-top:.4rem}
table{border-collapse:collapse;font-size:.8rem;width:100%}
th,td{text-align:left;padding:.15rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
td:nth-child(4){overflow-wrap:anywhere;max-width:40rem}
tr.error td{background:#fff0f0}
.files{color:var(--muted);font-size:.9rem}
.verdict{font-size:1.4rem;font-weight:700}.verdict.identical,.verdict.equivalent{color:#11643a}
.verdict.changed{color:#8a5300}.verdict.different{color:#a01822}
.wide{overflow-x:auto}table.diff pre{max-height:none}
tr.changed th{color:#8a5300}tr.different th{color:#a01822}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:1rem}.sides .side{min-width:0}
@media (max-width:1000px){.sides{grid-template-columns:1fr}}
@media (max-width:640px){main{padding:.6rem}.lanes,.axis-row{grid-template-columns:5rem 1fr}
.overlay{left:5rem}.lane-label{font-size:.7rem}.lane-label small{display:none}
.axis span:nth-child(even):not(:last-child){display:none}.interaction{padding:.7rem}
.metrics{grid-template-columns:repeat(3,1fr);gap:.3rem}.metric{padding:.3rem .4rem}
.metric .value{font-size:.95rem}}
@media print{body{font-size:10pt}main{max-width:none;padding:0}
.interaction{box-shadow:none;break-inside:auto}figure,.metrics,.summary{break-inside:avoid}
pre,.scroll{max-height:none;overflow:visible}.scroll{overflow:visible}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def page(title: str, body: str) -> str:
    """A whole HTML document around ``body`` with the report's styles; fetches nothing."""
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
