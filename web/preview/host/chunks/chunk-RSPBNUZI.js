import{_ as e}from"./chunk-VGMQI632.js";var m=e,t=m;export{t as a};
