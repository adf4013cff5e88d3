"""A self-contained HTML page with an interactive 3D view of surfaces coloured by probability.

No CDN, no external file: the mesh data sit in a JSON script tag and a small
canvas renderer (painter's algorithm with Lambert shading, written here) draws
them. Drag to rotate, wheel to zoom, tick boxes to show or hide each protein.
"""

from __future__ import annotations

import html
import json

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>absites: __TITLE__</title>
<style>
body{margin:0;font:14px sans-serif;background:#fafafa;color:#222}
header{padding:8px 12px;border-bottom:1px solid #ddd}
canvas{display:block;margin:0 auto;background:#fff;cursor:grab}
.bar{display:inline-block;width:160px;height:10px;vertical-align:middle;
background:linear-gradient(90deg,rgb(59,76,192),rgb(221,221,221),rgb(180,4,38))}
</style></head><body>
<header><b>__TITLE__</b> &nbsp; binding probability 0 <span class="bar"></span> 1 &nbsp;
<span id="toggles"></span> &nbsp; <small>dark band: CDR outline &middot; drag: rotate &middot; wheel: zoom</small></header>
<canvas id="view" width="900" height="640"></canvas>
<script type="application/json" id="absites-data">__DATA__</script>
<script>
(function(){
const data=JSON.parse(document.getElementById('absites-data').textContent);
const cv=document.getElementById('view'), ctx=cv.getContext('2d'); ctx.lineWidth=0.6;
const shown=data.meshes.map(()=>true);
const tg=document.getElementById('toggles');
data.meshes.forEach((m,i)=>{const l=document.createElement('label');const c=document.createElement('input');
 c.type='checkbox';c.checked=true;c.onchange=()=>{shown[i]=c.checked;draw();};l.appendChild(c);
 l.appendChild(document.createTextNode(' '+m.name+' '));tg.appendChild(l);});
let rx=0.3, ry=0.0, zoom=1.0;
let extent=1;
data.meshes.forEach(m=>{for(let i=0;i<m.vertices.length;i++)extent=Math.max(extent,Math.abs(m.vertices[i]));});
function colour(p){ // coolwarm-like: blue -> grey -> red
 const a=[59,76,192], b=[221,221,221], c=[180,4,38];
 const t=Math.min(1,Math.max(0,p)); const lo=t<0.5, s=lo?t*2:(t-0.5)*2, x=lo?a:b, y=lo?b:c;
 return [x[0]+(y[0]-x[0])*s, x[1]+(y[1]-x[1])*s, x[2]+(y[2]-x[2])*s];}
function draw(){
 const cx=Math.cos(rx), sx=Math.sin(rx), cy=Math.cos(ry), sy=Math.sin(ry);
 const scale=zoom*Math.min(cv.width,cv.height)/(2.2*extent);
 const tris=[];
 data.meshes.forEach((m,mi)=>{ if(!shown[mi])return;
  const V=m.vertices, n=V.length/3, P=new Float32Array(n*3);
  for(let i=0;i<n;i++){let x=V[3*i],y=V[3*i+1],z=V[3*i+2];
   let x1=cy*x+sy*z, z1=-sy*x+cy*z; let y2=cx*y-sx*z1, z2=sx*y+cx*z1;
   P[3*i]=x1;P[3*i+1]=y2;P[3*i+2]=z2;}
  const F=m.faces;
  for(let f=0;f<F.length;f+=3){const a=F[f],b=F[f+1],c=F[f+2];
   const ux=P[3*b]-P[3*a],uy=P[3*b+1]-P[3*a+1],uz=P[3*b+2]-P[3*a+2];
   const vx=P[3*c]-P[3*a],vy=P[3*c+1]-P[3*a+1],vz=P[3*c+2]-P[3*a+2];
   let nx=uy*vz-uz*vy, ny=uz*vx-ux*vz, nz=ux*vy-uy*vx; const nl=Math.hypot(nx,ny,nz)||1;
   if(nz/nl < -0.05) continue; // back face
   const depth=P[3*a+2]+P[3*b+2]+P[3*c+2];
   const p=(m.prob[a]+m.prob[b]+m.prob[c])/3;
   tris.push([depth,P[3*a],P[3*a+1],P[3*b],P[3*b+1],P[3*c],P[3*c+1],0.35+0.65*Math.abs(nz/nl),p,
              m.border?m.border[f/3]:0]);}
 });
 tris.sort((s,t)=>s[0]-t[0]);
 ctx.clearRect(0,0,cv.width,cv.height);
 const ox=cv.width/2, oy=cv.height/2;
 for(const t of tris){const c=t[9]?[38,38,38]:colour(t[8]); // CDR outline faces: dark, as in the PNG
  ctx.fillStyle=ctx.strokeStyle='rgb('+(c[0]*t[7]|0)+','+(c[1]*t[7]|0)+','+(c[2]*t[7]|0)+')';
  ctx.beginPath();ctx.moveTo(ox+t[1]*scale,oy-t[2]*scale);ctx.lineTo(ox+t[3]*scale,oy-t[4]*scale);
  ctx.lineTo(ox+t[5]*scale,oy-t[6]*scale);ctx.closePath();ctx.fill();ctx.stroke();}
 window.absitesDrawnTriangles=tris.length;
}
let drag=null;
cv.addEventListener('mousedown',e=>{drag=[e.clientX,e.clientY];});
window.addEventListener('mouseup',()=>{drag=null;});
window.addEventListener('mousemove',e=>{if(!drag)return;ry+=(e.clientX-drag[0])*0.01;rx+=(e.clientY-drag[1])*0.01;
 drag=[e.clientX,e.clientY];draw();});
cv.addEventListener('wheel',e=>{e.preventDefault();zoom*=e.deltaY<0?1.1:1/1.1;draw();},{passive:false});
draw();
})();
</script></body></html>
"""


def render_html(title: str, meshes: list[dict]) -> str:
    """The page; ``meshes``: dicts with ``name``, flat ``vertices``, flat ``faces`` and per-vertex ``prob``."""
    payload = json.dumps({"meshes": meshes}, separators=(",", ":")).replace("</", "<\\/")
    return _PAGE.replace("__TITLE__", html.escape(title)).replace("__DATA__", payload)
