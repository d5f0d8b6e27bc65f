import{a,b}from"./chunk-6FFXCMTB.js";import"./chunk-2JKR6BEF.js";import"./chunk-SPB7MIZB.js";export{a as conf,b as language};
