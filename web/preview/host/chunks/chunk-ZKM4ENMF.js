import{q as t}from"./chunk-VGMQI632.js";var e=t;export{e as a};
