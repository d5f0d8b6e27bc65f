import{b as o}from"./chunk-HISZGWXV.js";import"./chunk-PGCGIO6N.js";import"./chunk-5RGDUWPY.js";import"./chunk-SPB7MIZB.js";export{o as ns};
