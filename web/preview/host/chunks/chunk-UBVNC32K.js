import{a as f}from"./chunk-BQKI4KEO.js";import{a as n}from"./chunk-ZKM4ENMF.js";import{a as m}from"./chunk-RSPBNUZI.js";import{a as M}from"./chunk-GDZV55YO.js";import{a as w}from"./chunk-MKMK4HZW.js";import{d as c}from"./chunk-7GWJHODM.js";import{B as R,V as q,ba as D,j as X,z as j}from"./chunk-VGMQI632.js";import{a as K}from"./chunk-KZCGRCLE.js";import{n as v,o as y}from"./chunk-PGCGIO6N.js";import{a as V}from"./chunk-5RGDUWPY.js";import{a,d as _,e as P}from"./chunk-SPB7MIZB.js";var er={};_(er,{default:()=>U,getLinearProgressUtilityClass:()=>x,linearProgressClasses:()=>S});var T=P(V(),1),o=P(X(),1);function x(e){return R("MuiLinearProgress",e)}a(x,"getLinearProgressUtilityClass");var Y=w("MuiLinearProgress",["root","colorPrimary","colorSecondary","determinate","indeterminate","buffer","query","dashed","dashedColorPrimary","dashedColorSecondary","bar","bar1","bar2","barColorPrimary","barColorSecondary","bar1Indeterminate","bar1Determinate","bar1Buffer","bar2Indeterminate","bar2Buffer"]),S=Y;var p=P(K(),1);var $=4,L=y`
  0% {
    left: -35%;
    right: 100%;
  }

  60% {
    left: 100%;
    right: -90%;
  }

  100% {
    left: 100%;
    right: -90%;
  }
`,F=typeof L!="string"?v`
        animation: ${L} 2.1s cubic-bezier(0.65, 0.815, 0.735, 0.395) infinite;
      `:null,k=y`
  0% {
    left: -200%;
    right: 100%;
  }

  60% {
    left: 107%;
    right: -8%;
  }

  100% {
    left: 107%;
    right: -8%;
  }
`,G=typeof k!="string"?v`
        animation: ${k} 2.1s cubic-bezier(0.165, 0.84, 0.44, 1) 1.15s infinite;
      `:null,O=y`
  0% {
    opacity: 1;
    background-position: 0 -23px;
  }

  60% {
    opacity: 0;
    background-position: 0 -23px;
  }

  100% {
    opacity: 1;
    background-position: -200px -23px;
  }
`,H=typeof O!="string"?v`
        animation: ${O} 3s infinite linear;
      `:null,J=a(e=>{let{classes:r,variant:t,color:i}=e,C={root:["root",`color${n(i)}`,t],dashed:["dashed",`dashedColor${n(i)}`],bar1:["bar","bar1",`barColor${n(i)}`,(t==="indeterminate"||t==="query")&&"bar1Indeterminate",t==="determinate"&&"bar1Determinate",t==="buffer"&&"bar1Buffer"],bar2:["bar","bar2",t!=="buffer"&&`barColor${n(i)}`,t==="buffer"&&`color${n(i)}`,(t==="indeterminate"||t==="query")&&"bar2Indeterminate",t==="buffer"&&"bar2Buffer"]};return D(C,x,r)},"useUtilityClasses"),B=a((e,r)=>e.vars?e.vars.palette.LinearProgress[`${r}Bg`]:e.palette.mode==="light"?e.lighten(e.palette[r].main,.62):e.darken(e.palette[r].main,.5),"getColorShade"),Q=c("span",{name:"MuiLinearProgress",slot:"Root",overridesResolver:a((e,r)=>{let{ownerState:t}=e;return[r.root,r[`color${n(t.color)}`],r[t.variant]]},"overridesResolver")})(m(({theme:e})=>({position:"relative",overflow:"hidden",display:"block",height:4,zIndex:0,"@media print":{colorAdjust:"exact"},variants:[...Object.entries(e.palette).filter(f()).map(([r])=>({props:{color:r},style:{backgroundColor:B(e,r)}})),{props:a(({ownerState:r})=>r.color==="inherit"&&r.variant!=="buffer","props"),style:{"&::before":{content:'""',position:"absolute",left:0,top:0,right:0,bottom:0,backgroundColor:"currentColor",opacity:.3}}},{props:{variant:"buffer"},style:{backgroundColor:"transparent"}},{props:{variant:"query"},style:{transform:"rotate(180deg)"}}]}))),W=c("span",{name:"MuiLinearProgress",slot:"Dashed",overridesResolver:a((e,r)=>{let{ownerState:t}=e;return[r.dashed,r[`dashedColor${n(t.color)}`]]},"overridesResolver")})(m(({theme:e})=>({position:"absolute",marginTop:0,height:"100%",width:"100%",backgroundSize:"10px 10px",backgroundPosition:"0 -23px",variants:[{props:{color:"inherit"},style:{opacity:.3,backgroundImage:"radial-gradient(currentColor 0%, currentColor 16%, transparent 42%)"}},...Object.entries(e.palette).filter(f()).map(([r])=>{let t=B(e,r);return{props:{color:r},style:{backgroundImage:`radial-gradient(${t} 0%, ${t} 16%, transparent 42%)`}}})]})),H||{animation:`${O} 3s infinite linear`}),Z=c("span",{name:"MuiLinearProgress",slot:"Bar1",overridesResolver:a((e,r)=>{let{ownerState:t}=e;return[r.bar,r.bar1,r[`barColor${n(t.color)}`],(t.variant==="indeterminate"||t.variant==="query")&&r.bar1Indeterminate,t.variant==="determinate"&&r.bar1Determinate,t.variant==="buffer"&&r.bar1Buffer]},"overridesResolver")})(m(({theme:e})=>({width:"100%",position:"absolute",left:0,bottom:0,top:0,transition:"transform 0.2s linear",transformOrigin:"left",variants:[{props:{color:"inherit"},style:{backgroundColor:"currentColor"}},...Object.entries(e.palette).filter(f()).map(([r])=>({props:{color:r},style:{backgroundColor:(e.vars||e).palette[r].main}})),{props:{variant:"determinate"},style:{transition:`transform .${$}s linear`}},{props:{variant:"buffer"},style:{zIndex:1,transition:`transform .${$}s linear`}},{props:a(({ownerState:r})=>r.variant==="indeterminate"||r.variant==="query","props"),style:{width:"auto"}},{props:a(({ownerState:r})=>r.variant==="indeterminate"||r.variant==="query","props"),style:F||{animation:`${L} 2.1s cubic-bezier(0.65, 0.815, 0.735, 0.395) infinite`}}]}))),rr=c("span",{name:"MuiLinearProgress",slot:"Bar2",overridesResolver:a((e,r)=>{let{ownerState:t}=e;return[r.bar,r.bar2,r[`barColor${n(t.color)}`],(t.variant==="indeterminate"||t.variant==="query")&&r.bar2Indeterminate,t.variant==="buffer"&&r.bar2Buffer]},"overridesResolver")})(m(({theme:e})=>({width:"100%",position:"absolute",left:0,bottom:0,top:0,transition:"transform 0.2s linear",transformOrigin:"left",variants:[...Object.entries(e.palette).filter(f()).map(([r])=>({props:{color:r},style:{"--LinearProgressBar2-barColor":(e.vars||e).palette[r].main}})),{props:a(({ownerState:r})=>r.variant!=="buffer"&&r.color!=="inherit","props"),style:{backgroundColor:"var(--LinearProgressBar2-barColor, currentColor)"}},{props:a(({ownerState:r})=>r.variant!=="buffer"&&r.color==="inherit","props"),style:{backgroundColor:"currentColor"}},{props:{color:"inherit"},style:{opacity:.3}},...Object.entries(e.palette).filter(f()).map(([r])=>({props:{color:r,variant:"buffer"},style:{backgroundColor:B(e,r),transition:`transform .${$}s linear`}})),{props:a(({ownerState:r})=>r.variant==="indeterminate"||r.variant==="query","props"),style:{width:"auto"}},{props:a(({ownerState:r})=>r.variant==="indeterminate"||r.variant==="query","props"),style:G||{animation:`${k} 2.1s cubic-bezier(0.165, 0.84, 0.44, 1) 1.15s infinite`}}]}))),z=T.forwardRef(a(function(r,t){let i=M({props:r,name:"MuiLinearProgress"}),{className:C,color:A="primary",value:h,valueBuffer:I,variant:l="indeterminate",...E}=i,u={...i,color:A,variant:l},d=J(u),N=q(),b={},g={bar1:{},bar2:{}};if(l==="determinate"||l==="buffer")if(h!==void 0){b["aria-valuenow"]=Math.round(h),b["aria-valuemin"]=0,b["aria-valuemax"]=100;let s=h-100;N&&(s=-s),g.bar1.transform=`translateX(${s}%)`}else console.error("MUI: You need to provide a value prop when using the determinate or buffer variant of LinearProgress .");if(l==="buffer")if(I!==void 0){let s=(I||0)-100;N&&(s=-s),g.bar2.transform=`translateX(${s}%)`}else console.error("MUI: You need to provide a valueBuffer prop when using the buffer variant of LinearProgress.");return(0,p.jsxs)(Q,{className:j(d.root,C),ownerState:u,role:"progressbar",...b,ref:t,...E,children:[l==="buffer"?(0,p.jsx)(W,{className:d.dashed,ownerState:u}):null,(0,p.jsx)(Z,{className:d.bar1,ownerState:u,style:g.bar1}),l==="determinate"?null:(0,p.jsx)(rr,{className:d.bar2,ownerState:u,style:g.bar2})]})},"LinearProgress"));z.propTypes={classes:o.default.object,className:o.default.string,color:o.default.oneOfType([o.default.oneOf(["inherit","primary","secondary"]),o.default.string]),sx:o.default.oneOfType([o.default.arrayOf(o.default.oneOfType([o.default.func,o.default.object,o.default.bool])),o.default.func,o.default.object]),value:o.default.number,valueBuffer:o.default.number,variant:o.default.oneOf(["buffer","determinate","indeterminate","query"])};var U=z;export{x as a,S as b,U as c,er as d};
