import{c as r,e as s}from"./chunk-SPB7MIZB.js";var o=r(()=>{});var m=s(o());export{m as ns};
