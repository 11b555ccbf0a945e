package web

// BadBodies is badBodies for the HTTP scenario tests in web_test.
var BadBodies = badBodies
