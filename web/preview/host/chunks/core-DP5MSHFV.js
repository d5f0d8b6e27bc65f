import{i as o}from"./chunk-ORCI4LLL.js";import"./chunk-E7JESSYY.js";import"./chunk-OVUBV3OJ.js";import"./chunk-5RGDUWPY.js";import"./chunk-SPB7MIZB.js";export{o as ns};
