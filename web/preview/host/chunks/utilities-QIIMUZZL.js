import{x as o}from"./chunk-E7JESSYY.js";import"./chunk-5RGDUWPY.js";import"./chunk-SPB7MIZB.js";export{o as ns};
