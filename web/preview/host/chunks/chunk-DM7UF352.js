import{a as I}from"./chunk-BQKI4KEO.js";import{a as m}from"./chunk-ZKM4ENMF.js";import{a as u}from"./chunk-RSPBNUZI.js";import{a as U}from"./chunk-GDZV55YO.js";import{a as R}from"./chunk-MKMK4HZW.js";import{d as p}from"./chunk-7GWJHODM.js";import{B as j,ba as E,j as Z,z as N}from"./chunk-VGMQI632.js";import{a as Y}from"./chunk-KZCGRCLE.js";import{n as C,o as b}from"./chunk-PGCGIO6N.js";import{a as G}from"./chunk-5RGDUWPY.js";import{a as s,d as B,e as x}from"./chunk-SPB7MIZB.js";var tr={};B(tr,{circularProgressClasses:()=>V,default:()=>F,getCircularProgressUtilityClass:()=>P});var _=x(G(),1),e=x(Z(),1);function d(r,t){return s(function(...i){return r(...i)||t(...i)},"validate")}s(d,"chainPropTypes");function P(r){return j("MuiCircularProgress",r)}s(P,"getCircularProgressUtilityClass");var q=R("MuiCircularProgress",["root","determinate","indeterminate","colorPrimary","colorSecondary","svg","track","circle","circleDeterminate","circleIndeterminate","circleDisableShrink"]),V=q;var c=x(Y(),1);var a=44,S=b`
  0% {
    transform: rotate(0deg);
  }

  100% {
    transform: rotate(360deg);
  }
`,w=b`
  0% {
    stroke-dasharray: 1px, 200px;
    stroke-dashoffset: 0;
  }

  50% {
    stroke-dasharray: 100px, 200px;
    stroke-dashoffset: -15px;
  }

  100% {
    stroke-dasharray: 1px, 200px;
    stroke-dashoffset: -126px;
  }
`,H=typeof S!="string"?C`
        animation: ${S} 1.4s linear infinite;
      `:null,J=typeof w!="string"?C`
        animation: ${w} 1.4s ease-in-out infinite;
      `:null,L=s(r=>{let{classes:t,variant:o,color:i,disableShrink:y}=r,h={root:["root",o,`color${m(i)}`],svg:["svg"],track:["track"],circle:["circle",`circle${m(o)}`,y&&"circleDisableShrink"]};return E(h,P,t)},"useUtilityClasses"),Q=p("span",{name:"MuiCircularProgress",slot:"Root",overridesResolver:s((r,t)=>{let{ownerState:o}=r;return[t.root,t[o.variant],t[`color${m(o.color)}`]]},"overridesResolver")})(u(({theme:r})=>({display:"inline-block",variants:[{props:{variant:"determinate"},style:{transition:r.transitions.create("transform")}},{props:{variant:"indeterminate"},style:H||{animation:`${S} 1.4s linear infinite`}},...Object.entries(r.palette).filter(I()).map(([t])=>({props:{color:t},style:{color:(r.vars||r).palette[t].main}}))]}))),X=p("svg",{name:"MuiCircularProgress",slot:"Svg"})({display:"block"}),rr=p("circle",{name:"MuiCircularProgress",slot:"Circle",overridesResolver:s((r,t)=>{let{ownerState:o}=r;return[t.circle,t[`circle${m(o.variant)}`],o.disableShrink&&t.circleDisableShrink]},"overridesResolver")})(u(({theme:r})=>({stroke:"currentColor",variants:[{props:{variant:"determinate"},style:{transition:r.transitions.create("stroke-dashoffset")}},{props:{variant:"indeterminate"},style:{strokeDasharray:"80px, 200px",strokeDashoffset:0}},{props:s(({ownerState:t})=>t.variant==="indeterminate"&&!t.disableShrink,"props"),style:J||{animation:`${w} 1.4s ease-in-out infinite`}}]}))),er=p("circle",{name:"MuiCircularProgress",slot:"Track"})(u(({theme:r})=>({stroke:"currentColor",opacity:(r.vars||r).palette.action.activatedOpacity}))),z=_.forwardRef(s(function(t,o){let i=U({props:t,name:"MuiCircularProgress"}),{className:y,color:h="primary",disableShrink:A=!1,enableTrackSlot:T=!1,size:v=40,style:K,thickness:n=3.6,value:k=0,variant:$="indeterminate",...W}=i,l={...i,color:h,disableShrink:A,size:v,thickness:n,value:k,variant:$,enableTrackSlot:T},f=L(l),g={},D={},O={};if($==="determinate"){let M=2*Math.PI*((a-n)/2);g.strokeDasharray=M.toFixed(3),O["aria-valuenow"]=Math.round(k),g.strokeDashoffset=`${((100-k)/100*M).toFixed(3)}px`,D.transform="rotate(-90deg)"}return(0,c.jsx)(Q,{className:N(f.root,y),style:{width:v,height:v,...D,...K},ownerState:l,ref:o,role:"progressbar",...O,...W,children:(0,c.jsxs)(X,{className:f.svg,ownerState:l,viewBox:`${a/2} ${a/2} ${a} ${a}`,children:[T?(0,c.jsx)(er,{className:f.track,ownerState:l,cx:a,cy:a,r:(a-n)/2,fill:"none",strokeWidth:n,"aria-hidden":"true"}):null,(0,c.jsx)(rr,{className:f.circle,style:g,ownerState:l,cx:a,cy:a,r:(a-n)/2,fill:"none",strokeWidth:n})]})})},"CircularProgress"));z.propTypes={classes:e.default.object,className:e.default.string,color:e.default.oneOfType([e.default.oneOf(["inherit","primary","secondary","error","info","success","warning"]),e.default.string]),disableShrink:d(e.default.bool,r=>r.disableShrink&&r.variant&&r.variant!=="indeterminate"?new Error("MUI: You have provided the `disableShrink` prop with a variant other than `indeterminate`. This will have no effect."):null),enableTrackSlot:e.default.bool,size:e.default.oneOfType([e.default.number,e.default.string]),style:e.default.object,sx:e.default.oneOfType([e.default.arrayOf(e.default.oneOfType([e.default.func,e.default.object,e.default.bool])),e.default.func,e.default.object]),thickness:e.default.number,value:e.default.number,variant:e.default.oneOf(["determinate","indeterminate"])};var F=z;export{d as a,P as b,V as c,F as d,tr as e};
