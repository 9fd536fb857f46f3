-- W7: call the in-process echo function (POST, the same JSON body each time).
dofile("common.lua")
static_request("POST")
