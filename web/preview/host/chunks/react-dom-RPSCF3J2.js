import{a as r}from"./chunk-OVUBV3OJ.js";import"./chunk-5RGDUWPY.js";import{e as o}from"./chunk-SPB7MIZB.js";var a=o(r());export{a as ns};
