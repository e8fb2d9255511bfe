<?xml version="1.0" encoding="UTF-8"?>
<!-- Renders our RSS 2.0 and Atom 1.0 feeds as a readable page when opened in a browser. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom">
  <xsl:output method="html" encoding="UTF-8" indent="yes"/>
  <xsl:template match="/">
    <html>
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="rss/channel/title|atom:feed/atom:title"/></title>
        <link rel="stylesheet" href="../style.css"/>
      </head>
      <body>
        <header>
          <h1><xsl:value-of select="rss/channel/title|atom:feed/atom:title"/></h1>
          <p><xsl:value-of select="rss/channel/description|atom:feed/atom:subtitle"/></p>
          <p class="meta">This is a news feed: copy its address into a feed reader to subscribe.</p>
        </header>
        <main>
          <xsl:for-each select="rss/channel/item">
            <article>
              <h2><a href="{link}"><xsl:value-of select="title"/></a></h2>
              <p class="meta"><xsl:value-of select="pubDate"/></p>
              <p><xsl:value-of select="description"/></p>
            </article>
          </xsl:for-each>
          <xsl:for-each select="atom:feed/atom:entry">
            <article>
              <h2><a href="{atom:link[@rel='alternate'][not(@hreflang)]/@href}"><xsl:value-of select="atom:title"/></a></h2>
              <p class="meta"><xsl:value-of select="atom:published"/></p>
              <p><xsl:value-of select="atom:summary"/></p>
            </article>
          </xsl:for-each>
        </main>
      </body>
    </html>
  </xsl:template>
</xsl:stylesheet>
