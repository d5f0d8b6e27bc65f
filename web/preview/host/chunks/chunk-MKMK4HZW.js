import{B as a}from"./chunk-VGMQI632.js";import{a as r}from"./chunk-SPB7MIZB.js";function i(o,f,l="Mui"){let t={};return f.forEach(e=>{t[e]=a(o,e,l)}),t}r(i,"generateUtilityClasses");export{i as a};
